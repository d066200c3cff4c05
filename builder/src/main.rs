//! `sparkimg`: fetch Spark distributions and build Spark container images.
//!
//! stdout carries only data (a path, or JSON with `--json`); everything else goes to
//! stderr. Exit codes are [`sparkimg::exit`]'s table, printed by `--help`. This file
//! only parses and dispatches; each subcommand is a module of `commands/`.

mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = commands::args::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sparkimg: error: {e:#}");
            ExitCode::from(sparkimg::exit::classify(e.chain()))
        }
    }
}

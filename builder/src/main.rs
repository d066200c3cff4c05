//! `sparkimg`: fetch Spark distributions and build Spark container images.
//!
//! stdout carries only data (a path, or JSON with `--json`); everything else goes to
//! stderr. Exit codes are [`sparkimg::exit`]'s table, printed by `--help`. This file
//! only parses and dispatches; each subcommand is a module of `commands/`.

mod commands;

use std::process::ExitCode;

use clap::Parser;

use commands::{out, version};

fn main() -> ExitCode {
    if version::verbose_requested() {
        return out::print_version(&version::verbose());
    }
    let cli = commands::args::Cli::parse();
    sparkimg::report::install(Box::new(out::Stderr));
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => out::failed(&e),
    }
}

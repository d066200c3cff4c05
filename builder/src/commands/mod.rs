//! The subcommands, one module each. They map flags onto library stages and never call
//! each other; what several share (registry options, daemons, platforms, layout
//! sources) is in `support`, and their clap definitions are in `args`.

// First: `outln!` is in scope in the modules declared after it.
#[macro_use]
pub mod out;

pub mod args;
mod build;
mod cache;
mod engine;
mod fetch;
mod keygen;
mod outdated;
mod packages;
mod push;
mod rebase;
mod resolve;
mod sbom;
mod support;
mod verify;
pub mod version;

use std::process::ExitCode;

use anyhow::{bail, Result};

use args::{Cli, Command, EngineArg};

/// Runs the parsed command line. `outdated` chooses its exit code (1: some image is
/// outdated); the others succeed or fail.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let lock_timeout = cli.lock_timeout;
    match cli.command {
        Command::Outdated(args) => outdated::run(*args, lock_timeout),
        Command::Fetch(args) => fetch::run(args, lock_timeout).map(done),
        Command::Build(args) => build::run(*args, lock_timeout).map(done),
        Command::Cache(cmd) => cache::run(cmd, lock_timeout).map(done),
        Command::Push(args) if matches!(args.engine, EngineArg::Docker) => {
            engine::push(*args).map(done)
        }
        Command::Push(args) => {
            if let Some(extra) = args.more.first() {
                bail!(sparkimg::usage::UsageError::new(format!(
                    "unexpected argument '{extra}': one SOURCE per push (several image \
                     references only with --engine docker)"
                )));
            }
            push::run(*args, lock_timeout).map(done)
        }
        Command::Sbom(args) => sbom::run(*args, lock_timeout).map(done),
        Command::Verify(args) => verify::run(*args, lock_timeout).map(done),
        Command::Packages(args) => packages::run(*args, lock_timeout).map(done),
        Command::Rebase(args) => rebase::run(*args, lock_timeout).map(done),
        Command::Keygen(args) => keygen::run(args).map(done),
    }
}

fn done(_: ()) -> ExitCode {
    ExitCode::SUCCESS
}

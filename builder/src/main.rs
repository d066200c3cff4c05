//! `sparkimg`: fetch Spark distributions and build Spark container images.
//!
//! stdout carries only data (a path, or JSON with `--json`); everything else goes to
//! stderr. Exit codes are [`sparkimg::exit`]'s table, printed by `--help`.

// First: `outln!` is in scope in the modules declared after it.
#[macro_use]
mod out;

mod build_cmd;
mod cache_cmd;
mod cli;
mod engine_cmd;
mod outdated_cmd;
mod packages_cmd;
mod push_cmd;
mod rebase_cmd;
mod resolve;
mod sbom_cmd;
mod support;
mod version;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use sparkimg::fetch::{self, urls, Cache, DistSpec, FetchOptions};

use cli::{Cli, Command, FetchArgs};

fn main() -> ExitCode {
    if version::verbose_requested() {
        return out::print_version(&version::verbose());
    }
    let cli = Cli::parse();
    sparkimg::report::install(Box::new(out::Stderr));
    match run(cli) {
        Ok(code) => code,
        Err(e) => out::failed(&e),
    }
}

/// `outdated` chooses its exit code (1: some image is outdated); the others succeed or fail.
fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Outdated(args) => outdated_cmd::run(*args, cli.lock_timeout),
        other => run_other(other, cli.lock_timeout).map(|()| ExitCode::SUCCESS),
    }
}

fn run_other(command: Command, lock_timeout: Duration) -> Result<()> {
    match command {
        Command::Fetch(args) => run_fetch(args, lock_timeout),
        Command::Build(args) => build_cmd::run(*args, lock_timeout),
        Command::Cache(cmd) => cache_cmd::run(cmd, lock_timeout),
        Command::Push(args) if matches!(args.engine, cli::EngineArg::Docker) => {
            engine_cmd::push(*args)
        }
        Command::Push(args) => {
            if let Some(extra) = args.more.first() {
                bail!(sparkimg::usage::UsageError::new(format!(
                    "unexpected argument '{extra}': one SOURCE per push (several image \
                     references only with --engine docker)"
                )));
            }
            push_cmd::run(*args, lock_timeout)
        }
        Command::Sbom(args) => sbom_cmd::run(*args, lock_timeout),
        Command::Packages(args) => packages_cmd::run(*args, lock_timeout),
        Command::Rebase(args) => rebase_cmd::run(*args, lock_timeout),
        Command::Outdated(args) => outdated_cmd::run(*args, lock_timeout).map(|_| ()),
    }
}

fn run_fetch(args: FetchArgs, lock_timeout: Duration) -> Result<()> {
    let cache_dir = match args.cache_dir {
        Some(d) => d,
        None => Cache::default_root().context(
            "cannot find a cache directory: set --cache-dir, SPARKIMG_CACHE_DIR or HOME",
        )?,
    };
    let _session = sparkimg::cache::open_session(&cache_dir, lock_timeout)?;
    let env_mirrors = std::env::var("SPARKIMG_MIRRORS").ok();
    let mut opts = FetchOptions::new(cache_dir);
    opts.lock_timeout = lock_timeout;
    opts.mirrors = urls::mirror_list(
        &args.mirrors,
        env_mirrors.as_deref(),
        !args.no_default_mirrors,
    );
    opts.insecure_skip_verify = args.insecure_skip_verify;
    opts.verify_signature = args.verify_signature;
    opts.retry.max_attempts = args.retries.max(1);
    opts.retry.read_timeout = Duration::from_secs(args.read_timeout.max(1));
    opts.progress = support::progress_mode(args.progress);
    if opts.insecure_skip_verify {
        sparkimg::report::warn(
            "--insecure-skip-verify: a distribution without a usable checksum will be \
             accepted UNVERIFIED",
        );
    }

    let spec = match (args.dist, args.spark_version) {
        (Some(d), _) => DistSpec::Dist(d),
        (None, Some(v)) => DistSpec::Release {
            version: v.parse()?,
            hadoop: args.hadoop,
            scala: args.scala,
        },
        (None, None) => bail!("pass --spark-version or --dist"),
    };

    let fetched = fetch::fetch(&spec, &opts)?;
    if args.json {
        outln!("{}", serde_json::to_string(&fetched)?)?;
    } else {
        outln!("{}", fetched.path.display())?;
    }
    Ok(())
}

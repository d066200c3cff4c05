//! `sparkimg`: fetch Spark distributions and build Spark container images.
//!
//! stdout carries only data (a path, or JSON with `--json`); everything else goes to
//! stderr. Exit codes are listed in [`cli::EXIT_CODES`] and `--help`.

mod build_cmd;
mod cli;
mod engine_cmd;
mod push_cmd;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use sparkimg::fetch::{self, urls, Cache, DistSpec, FetchError, FetchOptions, ProgressMode};

use cli::{Cli, Command, FetchArgs, ProgressArg};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sparkimg: error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(b) = e.downcast_ref::<sparkimg::image::BuildError>() {
        return b.exit_code();
    }
    if let Some(r) = e.downcast_ref::<sparkimg::registry::RegistryError>() {
        return r.exit_code();
    }
    if let Some(d) = e.downcast_ref::<sparkimg::engine::EngineError>() {
        return d.exit_code();
    }
    // A version the grammar refuses is a usage error from every command.
    if e.downcast_ref::<sparkimg::fetch::VersionError>().is_some() {
        return 2;
    }
    match e.downcast_ref::<FetchError>() {
        Some(FetchError::InvalidVersion(_) | FetchError::UnsupportedBuild { .. }) => 2,
        Some(f) if f.is_verification_failure() => 3,
        Some(f) if f.is_unsafe_archive() => 5,
        Some(
            FetchError::NotFound { .. }
            | FetchError::Transient { .. }
            | FetchError::Http { .. }
            | FetchError::AllSourcesFailed { .. },
        ) => 4,
        _ => 1,
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Fetch(args) => run_fetch(args),
        Command::Build(args) => build_cmd::run(*args),
        Command::Push(args) if matches!(args.engine, cli::EngineArg::Docker) => {
            engine_cmd::push(*args)
        }
        Command::Push(args) => {
            if let Some(extra) = args.more.first() {
                bail!(sparkimg::image::BuildError::InvalidInput(format!(
                    "unexpected argument '{extra}': one SOURCE per push (several image \
                     references only with --engine docker)"
                )));
            }
            push_cmd::run(*args)
        }
    }
}

fn run_fetch(args: FetchArgs) -> Result<()> {
    let cache_dir = match args.cache_dir {
        Some(d) => d,
        None => Cache::default_root().context(
            "cannot find a cache directory: set --cache-dir, SPARKIMG_CACHE_DIR or HOME",
        )?,
    };
    let env_mirrors = std::env::var("SPARKIMG_MIRRORS").ok();
    let mut opts = FetchOptions::new(cache_dir);
    opts.mirrors = urls::mirror_list(
        &args.mirrors,
        env_mirrors.as_deref(),
        !args.no_default_mirrors,
    );
    opts.insecure_skip_verify = args.insecure_skip_verify;
    opts.verify_signature = args.verify_signature;
    opts.retry.max_attempts = args.retries.max(1);
    opts.retry.read_timeout = Duration::from_secs(args.read_timeout.max(1));
    opts.progress = match args.progress {
        ProgressArg::Auto => ProgressMode::Auto,
        ProgressArg::Bar => ProgressMode::Bar,
        ProgressArg::Lines => ProgressMode::Lines,
        ProgressArg::Quiet => ProgressMode::Quiet,
    };
    if opts.insecure_skip_verify {
        eprintln!(
            "sparkimg: WARNING: --insecure-skip-verify: a distribution without a usable checksum \
             will be accepted UNVERIFIED"
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
        println!("{}", serde_json::to_string(&fetched)?);
    } else {
        println!("{}", fetched.path.display());
    }
    Ok(())
}

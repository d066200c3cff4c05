//! `sparkimg build`: flags → [`Request`] (`resolve.rs`, pure), what the pipeline needs
//! from the world (the cache root, credentials: read once, `--password-stdin` consumes
//! stdin; Maven's environment), then [`pipeline::run`], then the report: a summary on
//! stderr and the result on stdout (references with digests, or `--json`).

use std::time::Duration;

use anyhow::Result;
use sparkimg::build::pipeline::{self, Environment, Outcome};
use sparkimg::build::BuildReport;
use sparkimg::maven::stage::MavenEnv;
use sparkimg::registry::PushReport;

use super::args::{BuildArgs, CacheDirArg};
use super::resolve::{self, Env};
use super::support;

pub fn run(args: BuildArgs, lock_timeout: Duration) -> Result<()> {
    let req = resolve::resolve(&args, &Env::from_process())?;
    let cache_root = CacheDirArg::required_root(args.cache.dir.clone())?;
    // Read now, so a broken auth file fails before the fetch.
    let registry = match req.needs_registry() {
        true => Some(support::registry_options(
            &args.registry,
            Some(cache_root.clone()),
            lock_timeout,
        )?),
        false => None,
    };
    let env = Environment {
        cache_root,
        lock_timeout,
        registry,
        maven: MavenEnv::from_process(),
        signer: support::signer(&args.sign)?,
    };
    match pipeline::run(&req, env, &mut |l| eprintln!("{l}"))? {
        Outcome::Engine(report) => print_engine(&report, args.json),
        Outcome::Daemonless {
            report,
            pushed,
            wrote,
            wrote_default,
        } => {
            print_summary(&report, &wrote, wrote_default);
            print_report(&report, pushed.as_ref(), args.json)
        }
    }
}

/// The images a Docker Engine built: on stderr each with its ID and size; on stdout
/// each repository digest (pushed) or reference and ID, or the report as JSON.
fn print_engine(report: &BuildReport, json: bool) -> Result<()> {
    for i in &report.images {
        eprintln!(
            "sparkimg: {} {} ({} bytes)",
            i.reference,
            i.image_id.as_deref().unwrap_or(""),
            i.size
        );
    }
    if json {
        return outln!("{}", serde_json::to_string(report)?);
    }
    for i in &report.images {
        match i.repo_digests.first() {
            Some(d) => outln!("{d}")?,
            None => outln!("{} {}", i.reference, i.image_id.as_deref().unwrap_or(""))?,
        }
    }
    Ok(())
}

/// Each layer (built or cached) and where the images went, on stderr.
fn print_summary(report: &BuildReport, wrote: &[String], defaulted: bool) {
    for l in &report.layers {
        eprintln!(
            "sparkimg: layer {:<11} {} {} ({} bytes)",
            l.name,
            if l.cached { "cached" } else { "built " },
            l.digest,
            l.size
        );
    }
    eprintln!(
        "sparkimg: {} layers built, {} cached; wrote {}{}",
        report.layers_built,
        report.layers_cached,
        wrote.join(", "),
        if defaulted {
            " (default; pass --output, or `docker load` a docker-archive: output)"
        } else {
            ""
        }
    );
}

fn print_report(report: &BuildReport, pushed: Option<&Vec<PushReport>>, json: bool) -> Result<()> {
    if json {
        let mut v = serde_json::to_value(report)?;
        if let Some(p) = pushed {
            v["pushed"] = serde_json::to_value(p)?;
        }
        outln!("{v}")?;
    } else if let Some(pushed) = pushed {
        for p in pushed {
            outln!("{}", p.pushed)?;
        }
    } else {
        for i in &report.images {
            outln!("{}@{}", i.reference, i.manifest_digest)?;
        }
    }
    Ok(())
}

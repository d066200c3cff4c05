//! `sparkimg verify`: an image's signature, provenance and SBOM checked against a public
//! key ([`sparkimg::build::verify`]), from a layout or archive or a registry; with
//! `--rebuild`, the image rebuilt from its provenance into a scratch layout and compared
//! ([`sparkimg::build::rebuild`]). One line per check (or `--json`), and exit 3 when any
//! failed.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use serde_json::Value;
use sparkimg::build::pipeline::{self, Environment};
use sparkimg::build::rebuild;
use sparkimg::build::verify::{self, Check, Layout, Remote};
use sparkimg::build::BuildError;
use sparkimg::maven::stage::MavenEnv;
use sparkimg::registry::RegistryRef;
use sparkimg::sign::key::SigningKey;
use sparkimg::sign::{PublicKey, SignError, Signer};

use super::args::{Cli, Command, VerifyArgs};
use super::resolve::{self, Env};
use super::support;

pub fn run(args: VerifyArgs, lock_timeout: Duration) -> Result<()> {
    let text = std::fs::read(&args.key).map_err(SignError::io(&args.key))?;
    let key = PublicKey::read(&args.key, &text)?;
    let local = ["oci:", "oci-archive:", "docker-archive:"]
        .iter()
        .any(|p| args.image.starts_with(p));
    // The predicate is read while the source is open; the rebuild runs after, so it
    // takes the cache as a build does, with no session of verify's still held.
    let (digest, mut checks, predicate, select) = if local {
        let (dir, select, _guard) = support::open_layout_source(&args.image)?;
        let (layout, digest) = Layout::open(&dir, select.as_deref())?;
        let checks = verify::verify(&layout, &digest, &key)?;
        let predicate = match args.rebuild {
            true => verify::predicate(&layout, &digest, &key)?,
            false => None,
        };
        (digest, checks, predicate, select)
    } else {
        let reference = RegistryRef::parse(&args.image)?;
        let cache = args.cache.root();
        let _session = support::cache_session(cache.as_deref(), lock_timeout)?;
        let opts = support::registry_options(&args.registry, cache, lock_timeout)?;
        let remote = Remote {
            reference,
            opts: &opts,
        };
        let digest = remote.digest()?;
        let checks = verify::verify(&remote, &digest, &key)?;
        let predicate = match args.rebuild {
            true => verify::predicate(&remote, &digest, &key)?,
            false => None,
        };
        (digest, checks, predicate, None)
    };
    // Without a verified provenance the `provenance` check has failed already, saying
    // why; there is nothing to rebuild from.
    if let Some(p) = &predicate {
        checks.extend(rebuilt(&args, p, &digest, select.as_deref(), lock_timeout)?);
    }
    print(&args, &digest, &checks)?;
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.ok).collect();
    let Some(first) = failed.first() else {
        return Ok(());
    };
    let mut names: Vec<&str> = failed.iter().map(|c| c.check).collect();
    names.dedup();
    Err(SignError::Unverified {
        image: format!("{} ({digest})", args.image),
        failed: names.join(", "),
        fix: first.fix.clone().unwrap_or_default(),
    }
    .into())
}

/// Builds `predicate`'s request from the sources after `--` into a scratch layout,
/// signed and attested with a throwaway key so its provenance can be read back the way
/// the image's was, and compares the two.
fn rebuilt(
    args: &VerifyArgs,
    predicate: &Value,
    want: &str,
    select: Option<&str>,
    lock_timeout: Duration,
) -> Result<Vec<Check>> {
    let plan = rebuild::plan(predicate, &args.sources)?;
    let scratch = tempfile::Builder::new()
        .prefix("sparkimg-rebuild-")
        .tempdir()
        .map_err(|source| BuildError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    let out = scratch.path().join("layout");
    let mut argv: Vec<String> = vec!["sparkimg".into(), "build".into()];
    argv.extend(plan.flags);
    argv.extend(args.sources.iter().cloned());
    if let (Some(dir), false) = (
        &args.cache.dir,
        args.sources.iter().any(|s| s.starts_with("--cache-dir")),
    ) {
        argv.push(format!("--cache-dir={}", dir.display()));
    }
    argv.extend([
        format!("--output=oci:{}", out.display()),
        "--provenance".into(),
    ]);
    // The same parser as `sparkimg build`, so the flags mean what they mean there.
    let build = match Cli::try_parse_from(&argv).map(|c| c.command) {
        Ok(Command::Build(b)) => b,
        Ok(_) => return Err(BuildError::usage("the rebuild's flags are not a build's").into()),
        Err(e) => {
            let message = e.render().to_string();
            let message = format!("the rebuild's build flags: {}", message.trim());
            return Err(BuildError::usage(message).into());
        }
    };
    let env = Env {
        source_date_epoch: plan.epoch,
        ..Env::from_process()
    };
    let req = resolve::resolve(&build, &env)?;
    let cache_root = super::args::CacheDirArg::required_root(build.cache.dir.clone())?;
    let registry = match req.needs_registry() {
        true => Some(support::registry_options(
            &build.registry,
            Some(cache_root.clone()),
            lock_timeout,
        )?),
        false => None,
    };
    let signing = SigningKey::generate()?;
    let public = PublicKey::read(
        Path::new("the rebuild's key"),
        signing.public_pem().as_bytes(),
    )?;
    let env = Environment {
        cache_root,
        lock_timeout,
        registry,
        maven: MavenEnv::from_process(),
        signer: Some(Signer::Key(signing)),
    };
    pipeline::run(&req, env, &mut |l| eprintln!("{l}"))?;
    let (layout, got) = Layout::open(&out, select)?;
    let Some(again) = verify::predicate(&layout, &got, &public)? else {
        return Err(BuildError::usage("the rebuild attached no provenance").into());
    };
    Ok(rebuild::compare(predicate, &again, want, &got))
}

fn print(args: &VerifyArgs, digest: &str, checks: &[Check]) -> Result<()> {
    if args.json {
        let v = serde_json::json!({
            "image": args.image,
            "digest": digest,
            "verified": checks.iter().all(|c| c.ok),
            "checks": checks,
        });
        outln!("{v}")?;
        return Ok(());
    }
    for c in checks {
        let status = if c.ok { "ok  " } else { "FAIL" };
        outln!("{status} {:<10} {} {}", c.check, c.digest, c.detail)?;
        if let Some(fix) = &c.fix {
            outln!("     fix: {fix}")?;
        }
    }
    Ok(())
}

//! `sparkimg verify`: an image's signature, provenance and SBOM checked against a public
//! key ([`sparkimg::build::verify`]), from a layout or archive or a registry; one line
//! per check (or `--json`), and exit 3 when any failed.

use anyhow::Result;
use sparkimg::build::verify::{self, Check, Layout, Remote};
use sparkimg::registry::RegistryRef;
use sparkimg::sign::{PublicKey, SignError};

use super::args::VerifyArgs;
use super::support;

pub fn run(args: VerifyArgs, lock_timeout: std::time::Duration) -> Result<()> {
    if args.rebuild {
        return Err(SignError::RebuildNotYet.into());
    }
    let text = std::fs::read(&args.key).map_err(SignError::io(&args.key))?;
    let key = PublicKey::read(&args.key, &text)?;
    let local = ["oci:", "oci-archive:", "docker-archive:"]
        .iter()
        .any(|p| args.image.starts_with(p));
    let (digest, checks) = if local {
        let (dir, select, _guard) = support::open_layout_source(&args.image)?;
        let (layout, digest) = Layout::open(&dir, select.as_deref())?;
        let checks = verify::verify(&layout, &digest, &key)?;
        (digest, checks)
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
        (digest, checks)
    };
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

//! `sparkimg outdated`: per image and platform, the base it records
//! (`org.opencontainers.image.base.name`/`base.digest`) against what that name resolves
//! to now. Exit 0 when all are current, 1 when any is outdated; registry errors keep
//! their codes (9, 10). Made for a nightly job that then runs `sparkimg rebase`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use sparkimg::build::{base, BaseSpec, Compression, Platform};
use sparkimg::oci::Location;
use sparkimg::registry::{self, RegistryOptions, RegistryRef};
use sparkimg::usage::UsageError;

use super::args::OutdatedArgs;
use super::support;

#[derive(Debug, Serialize)]
struct PlatformStatus {
    platform: String,
    base: String,
    recorded_digest: Option<String>,
    current_digest: Option<String>,
    outdated: bool,
}

#[derive(Debug, Serialize)]
struct ImageStatus {
    image: String,
    outdated: bool,
    platforms: Vec<PlatformStatus>,
}

pub fn run(args: OutdatedArgs, lock_timeout: Duration) -> Result<ExitCode> {
    let platforms = args
        .platform
        .iter()
        .map(|p| Platform::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let cache = args.cache.root();
    // As for every command that writes into the cache (pulled manifests and configs).
    let _session = support::cache_session(cache.as_deref(), lock_timeout)?;
    let ropts = support::registry_options(&args.registry, cache, lock_timeout)?;
    let scratch = tempfile::tempdir()?;
    let mut all = Vec::new();
    for image in &args.images {
        let spec = BaseSpec::parse(image)?;
        let mut statuses = Vec::new();
        for want in support::image_platforms((image, &spec), &platforms, Some(&ropts))? {
            let opened = open(&spec, &want, &ropts, scratch.path())?;
            let label = |k: &str| {
                opened
                    .config
                    .config()
                    .as_ref()
                    .and_then(|c| c.labels().as_ref())
                    .and_then(|l| l.get(k).cloned())
            };
            let name = label("org.opencontainers.image.base.name").ok_or_else(|| {
                UsageError::new(format!(
                    "{image}: no org.opencontainers.image.base.name label: not built by sparkimg"
                ))
            })?;
            let recorded = label("org.opencontainers.image.base.digest");
            let current = resolve(&name, &want, &ropts, scratch.path())?;
            statuses.push(PlatformStatus {
                platform: opened.platform_name(),
                outdated: current.is_some() && current != recorded,
                base: name,
                recorded_digest: recorded,
                current_digest: current,
            });
        }
        all.push(ImageStatus {
            image: image.clone(),
            outdated: statuses.iter().any(|s| s.outdated),
            platforms: statuses,
        });
    }
    print(&all, args.json)?;
    Ok(match all.iter().any(|i| i.outdated) {
        true => ExitCode::from(1),
        false => ExitCode::SUCCESS,
    })
}

/// An image or base for `want`: a registry one by its manifests and config only.
fn open(
    spec: &BaseSpec,
    want: &Platform,
    ropts: &RegistryOptions,
    scratch: &std::path::Path,
) -> Result<base::BaseImage> {
    let spec = match spec {
        BaseSpec::Registry(r) => {
            let got = registry::pull::pull_some(&RegistryRef::parse(r)?, want, ropts, Some(0))?;
            BaseSpec::Pulled {
                dir: got.layout,
                name: got.reference,
            }
        }
        other => other.clone(),
    };
    Ok(base::open(&spec, want, Compression::None, scratch, None)?)
}

/// What a recorded base name is now (its digest); `None` for a base read from disk (it
/// is recorded by its content, not where it was) or a rootfs (no digest).
fn resolve(
    name: &str,
    want: &Platform,
    ropts: &RegistryOptions,
    scratch: &std::path::Path,
) -> Result<Option<String>> {
    if sparkimg::oci::reference::is_content_name(name) {
        return Ok(None);
    }
    let spec = BaseSpec::parse(name)?;
    if matches!(spec, BaseSpec::Local(Location::Rootfs(_))) {
        return Ok(None);
    }
    Ok(open(&spec, want, ropts, scratch)?.digest)
}

fn print(all: &[ImageStatus], json: bool) -> Result<()> {
    if json {
        outln!("{}", serde_json::json!({ "images": all }))?;
        return Ok(());
    }
    for i in all {
        for p in &i.platforms {
            let state = match (&p.current_digest, p.outdated) {
                (None, _) if sparkimg::oci::reference::is_content_name(&p.base) => {
                    "unknown (a base on disk, recorded by digest)"
                }
                (None, _) => "unknown (no base digest)",
                (_, true) => "outdated",
                (_, false) => "current",
            };
            outln!(
                "{} {} {state}: {} {} -> {}",
                i.image,
                p.platform,
                p.base,
                p.recorded_digest.as_deref().unwrap_or("-"),
                p.current_digest.as_deref().unwrap_or("-")
            )?;
        }
    }
    Ok(())
}

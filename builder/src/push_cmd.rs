//! `sparkimg push`: an OCI layout or archive fed to the registry sink a build uses.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use sparkimg::fetch::Cache;
use sparkimg::publish::{self, RegistrySink};
use sparkimg::registry::{RegistryError, RegistryRef};

use crate::cli::PushArgs;
use crate::support;

/// An `oci:` directory as is; archives unpacked into a temporary directory (kept alive
/// by the returned guard).
fn open_source(source: &str) -> Result<(PathBuf, Option<String>, Option<tempfile::TempDir>)> {
    let (kind, rest) = source.split_once(':').ok_or_else(|| {
        usage(format!(
            "{source}: expected oci:DIR[:REF] or oci-archive:FILE[:REF]"
        ))
    })?;
    let (path, sel) = match rest.split_once(':') {
        Some((p, r)) if !r.is_empty() => (PathBuf::from(p), Some(r.to_string())),
        Some((p, _)) => (PathBuf::from(p), None),
        None => (PathBuf::from(rest), None),
    };
    if path.as_os_str().is_empty() {
        return Err(usage(format!("{source}: missing path")));
    }
    match kind {
        "oci" => Ok((path, sel, None)),
        "oci-archive" | "docker-archive" => {
            let tmp = tempfile::Builder::new()
                .prefix("sparkimg-push-")
                .tempdir()
                .context("creating a temporary directory")?;
            let f = std::fs::File::open(&path).with_context(|| path.display().to_string())?;
            tar::Archive::new(f)
                .unpack(tmp.path())
                .with_context(|| format!("unpacking {}", path.display()))?;
            if !tmp.path().join("index.json").is_file() {
                return Err(usage(format!(
                    "{}: no OCI layout inside (only archives written by sparkimg or docker 25+ \
                     can be pushed)",
                    path.display()
                )));
            }
            Ok((tmp.path().to_path_buf(), sel, Some(tmp)))
        }
        _ => Err(usage(format!(
            "{source}: expected oci:DIR[:REF], oci-archive:FILE[:REF] or docker-archive:FILE"
        ))),
    }
}

fn usage(msg: String) -> anyhow::Error {
    RegistryError::Layout {
        path: PathBuf::from("."),
        reason: msg,
    }
    .into()
}

fn parse_targets(to: &[String]) -> Result<Vec<RegistryRef>> {
    let mut out = Vec::new();
    for t in to {
        let r = RegistryRef::parse(t)?;
        if r.digest.is_some() {
            return Err(RegistryError::InvalidReference {
                reference: t.clone(),
                reason: "push to a tag, not a digest".into(),
            }
            .into());
        }
        out.push(r);
    }
    Ok(out)
}

pub fn run(args: PushArgs, lock_timeout: Duration) -> Result<()> {
    let to = parse_targets(&args.to)?;
    let (dir, select, _guard) = open_source(&args.source)?;
    let cache = args.cache_dir.clone().or_else(Cache::default_root);
    let _session = support::cache_session(cache.as_deref(), lock_timeout)?;
    let opts = support::registry_options(&args.registry, cache)?;
    let images = publish::open_layout(&dir)?;
    let sink = RegistrySink {
        opts,
        select,
        to,
        source: dir,
    };
    let reports = sink.push(&images)?;
    if args.json {
        println!("{}", serde_json::json!({ "pushed": reports }));
    } else {
        for r in &reports {
            println!("{}", r.pushed);
        }
    }
    Ok(())
}

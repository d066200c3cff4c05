//! `sparkimg sbom`: the SBOM attached to an image as an OCI referrer, from the
//! `index.json` of a layout or archive (`oci:`, `oci-archive:`, `docker-archive:`) or a
//! registry's referrers tag, printed on stdout.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use sparkimg::fetch::Cache;
use sparkimg::image::Platform;
use sparkimg::registry::{self, RegistryRef};
use sparkimg::sbom::Format;

use crate::cli::SbomArgs;
use crate::support;

pub fn run(args: SbomArgs, lock_timeout: std::time::Duration) -> Result<()> {
    let platform = match &args.platform {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    let local = ["oci:", "oci-archive:", "docker-archive:"]
        .iter()
        .any(|p| args.image.starts_with(p));
    let (subject, documents) = if local {
        let (dir, select, _guard) = support::open_layout_source(&args.image)?;
        layout_referrers(&dir, select.as_deref(), &platform)?
    } else {
        let reference = RegistryRef::parse(&args.image)?;
        let cache = args.cache_dir.clone().or_else(Cache::default_root);
        let _session = support::cache_session(cache.as_deref(), lock_timeout)?;
        let opts = support::registry_options(&args.registry, cache, lock_timeout)?;
        let types = [Format::Spdx, Format::CycloneDx].map(Format::artifact_type);
        let r = registry::referrers(&reference, &platform, &types, &opts)?;
        (r.subject, r.documents)
    };
    let want = args.format.as_deref().map(|f| match f {
        "cyclonedx" => Format::CycloneDx,
        _ => Format::Spdx,
    });
    let sboms: Vec<(Format, &Vec<u8>)> = documents
        .iter()
        .filter_map(|(t, b)| Some((Format::from_artifact_type(t)?, b)))
        .collect();
    let pick = match want {
        Some(f) => sboms.iter().find(|(g, _)| *g == f),
        None => sboms
            .iter()
            .find(|(g, _)| *g == Format::Spdx)
            .or(sboms.first()),
    };
    let Some((_, bytes)) = pick else {
        let what = want.map_or("an SBOM".to_string(), |f| {
            format!("an {} SBOM", f.artifact_type())
        });
        // anyhow: not a library error, so exit 1 ("none") as the README documents.
        return Err(anyhow!(
            "{} ({subject}) has no {what} attached as a referrer",
            args.image
        ));
    };
    use std::io::Write;
    std::io::stdout()
        .write_all(bytes)
        .context("writing to stdout")?;
    Ok(())
}

/// `(artifactType, document)` of each referrer.
type Documents = Vec<(String, Vec<u8>)>;

fn read_json(dir: &Path, digest: &str) -> Result<Value> {
    let path = registry::layout::blob_path(dir, digest);
    let bytes = std::fs::read(&path).with_context(|| path.display().to_string())?;
    serde_json::from_slice(&bytes).with_context(|| path.display().to_string())
}

/// The image's platform manifest in the layout (by REF, or the only image) and the
/// documents of the referrers listed beside it.
fn layout_referrers(
    dir: &Path,
    select: Option<&str>,
    platform: &Platform,
) -> Result<(String, Documents)> {
    let index_path = dir.join("index.json");
    let text = std::fs::read(&index_path).with_context(|| index_path.display().to_string())?;
    let index: Value = serde_json::from_slice(&text).context("index.json")?;
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let named = |e: &Value, s: &str| {
        let a = &e["annotations"];
        a["org.opencontainers.image.ref.name"] == s || a["io.containerd.image.name"] == s
    };
    let images: Vec<&Value> = entries
        .iter()
        .filter(|e| e.get("artifactType").is_none())
        .filter(|e| select.is_none_or(|s| named(e, s)))
        .collect();
    let [image] = images.as_slice() else {
        return Err(registry::RegistryError::Layout {
            path: dir.to_path_buf(),
            reason: format!("{} images match: select one with oci:DIR:REF", images.len()),
        }
        .into());
    };
    let mut subject = image["digest"].as_str().unwrap_or_default().to_string();
    if image["mediaType"] == registry::manifest::OCI_INDEX {
        let inner = read_json(dir, &subject)?;
        let found = inner["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| {
                m["platform"]["os"] == platform.os.as_str()
                    && m["platform"]["architecture"] == platform.arch.as_str()
            });
        if let Some(m) = found {
            subject = m["digest"].as_str().unwrap_or_default().to_string();
        }
    }
    let mut docs = Vec::new();
    for e in entries.iter().filter(|e| e.get("artifactType").is_some()) {
        let m = read_json(dir, e["digest"].as_str().unwrap_or_default())?;
        if m["subject"]["digest"] != subject.as_str() {
            continue;
        }
        let (Some(kind), Some(layer)) = (
            m["artifactType"].as_str(),
            m["layers"][0]["digest"].as_str(),
        ) else {
            continue;
        };
        let path = registry::layout::blob_path(dir, layer);
        let bytes = std::fs::read(&path).with_context(|| path.display().to_string())?;
        docs.push((kind.to_string(), bytes));
    }
    Ok((subject, docs))
}

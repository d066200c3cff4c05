//! `sparkimg sbom`: the SBOM attached to an image as an OCI referrer, from the
//! `index.json` of a layout or archive (`oci:`, `oci-archive:`, `docker-archive:`) or a
//! registry's referrers tag, printed on stdout.

use anyhow::{anyhow, Result};
use sparkimg::build::Platform;
use sparkimg::registry::{self, RegistryRef};
use sparkimg::sbom::Format;

use super::args::SbomArgs;
use super::support;

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
        let r = registry::layout::referrers(&dir, select.as_deref(), &platform)?;
        (r.subject, r.documents)
    } else {
        let reference = RegistryRef::parse(&args.image)?;
        let cache = args.cache.root();
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
    super::out::bytes(bytes)
}

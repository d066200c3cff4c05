//! The OS-package stage: one layer per variant that needs packages, planned from the
//! base's own apt sources (`crate::apt`), and the packages an image then holds.

use super::BuildError;
use super::BuildOptions;
use super::OsPackages;
use super::PackageLayers;
use crate::layer::basefs::BaseFs;
use crate::layer::basefs::Node;
use crate::layer::cache;
use crate::layer::cache::LayerCache;
use crate::layer::plan::LayerPlan;
use crate::layer::plan::Variant;
use std::collections::BTreeMap;
use std::collections::BTreeSet;

/// The OS packages of an image on `basefs`, whose dpkg status is `status` when a
/// package layer replaced the base's.
pub(crate) fn image_os_packages(basefs: &BaseFs, status: Option<&str>) -> OsPackages {
    let mut os = crate::sbom::osdb::os_packages(|p| match status {
        Some(s) if p == crate::sbom::osdb::DPKG_STATUS => Some(s.as_bytes()),
        _ => basefs.read(p),
    });
    os.0.extend(
        basefs
            .nodes
            .iter()
            .filter(|(k, n)| k.ends_with(".jar") && matches!(n, Node::File(_)))
            .map(|(k, _)| crate::sbom::jar::base_jar_package(&format!("/{k}"))),
    );
    os
}

/// One package layer per variant that needs packages (variants needing the same set
/// get the same layer, so it is built once and shared). The base's apt indexes are
/// fetched once per platform, and only when some variant needs a package.
/// A layer found in the cache by its packages key is planned empty: it is never built
/// (see [`build_layers`]), so no package is unpacked.
pub(super) fn os_package_layers(
    opts: &BuildOptions,
    basefs: &BaseFs,
    config: &oci_spec::image::ImageConfiguration,
    variants: &BTreeSet<Variant>,
    base_ids: &[String],
    cache: Option<&LayerCache>,
) -> Result<PackageLayers, BuildError> {
    let wanted: Vec<(Variant, Vec<String>)> = variants
        .iter()
        .map(|v| (*v, crate::apt::wanted(*v, basefs, &opts.apt_packages)))
        .filter(|(_, w)| !w.is_empty())
        .collect();
    let Some((first, first_wanted)) = wanted.first() else {
        return Ok(Default::default());
    };
    let needs = match crate::apt::runtime(*first) {
        Some((_, pkg)) if first_wanted.first().map(String::as_str) == Some(pkg) => {
            (first.image_name().to_string(), pkg.to_string())
        }
        _ => ("--apt-packages".to_string(), first_wanted.join(", ")),
    };
    let arch = crate::apt::deb_arch(
        config.architecture().to_string().as_str(),
        config.variant().as_deref(),
    );
    let repo = crate::apt::open(basefs, &arch, (&needs.0, &needs.1), &opts.apt)?;
    let mut built: Vec<(String, LayerPlan)> = Vec::new();
    let mut out = Vec::new();
    let mut statuses = BTreeMap::new();
    let mut debs = Vec::new();
    let mut warned: Vec<String> = Vec::new();
    for (variant, w) in &wanted {
        let pkgs = repo.resolve(w)?;
        if pkgs.is_empty() {
            continue;
        }
        debs.extend(pkgs.iter().map(deb_dependency));
        statuses.insert(*variant, repo.status_after(&pkgs, &opts.apt));
        let unconfigured =
            |p: &crate::apt::packages::Package| opts.apt.allow_unconfigured.contains(&p.name);
        for p in pkgs.iter().filter(|p| unconfigured(p)) {
            if !warned.contains(&p.name) {
                warned.push(p.name.clone());
            }
        }
        // An unconfigured package's layer differs (its dpkg status) from a configured one's.
        let ids: Vec<String> = pkgs
            .iter()
            .map(|p| match unconfigured(p) {
                true => format!("{} {} unpacked", p.name, p.sha256),
                false => format!("{} {}", p.name, p.sha256),
            })
            .collect();
        let key = cache::packages_key(base_ids, &ids, opts.epoch, opts.compression);
        let mut layer = match built.iter().find(|(k, _)| *k == key) {
            Some((_, l)) => l.clone(),
            None => {
                let l = match cache.and_then(|c| c.get(&key)) {
                    Some(_) => LayerPlan {
                        name: crate::apt::layer::NAME,
                        only: Some(*variant),
                        entries: Vec::new(),
                    },
                    None => repo.layer(&pkgs, basefs, *variant, &opts.apt)?,
                };
                built.push((key.clone(), l.clone()));
                l
            }
        };
        layer.only = Some(*variant);
        out.push((layer, key));
    }
    if !warned.is_empty() {
        crate::report::warn(&format!(
            "left unconfigured (--apt-allow-unconfigured): {}; their maintainer scripts \
             have not run, dpkg lists them as unpacked and a later apt-get configures them",
            warned.join(", ")
        ));
    }
    Ok((out, statuses, debs))
}

/// A resolved package as the provenance names it: its `.deb` file name (name, version
/// and architecture, as Debian names it) and the sha256 its Packages index gave.
fn deb_dependency(p: &crate::apt::packages::Package) -> crate::sign::provenance::Dependency {
    let file = p.filename.rsplit('/').next().unwrap_or(&p.filename);
    crate::sign::provenance::Dependency {
        name: Some(file.to_string()),
        uri: None,
        digest: vec![("sha256".into(), p.sha256.clone())],
    }
}

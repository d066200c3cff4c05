//! What the provenance of a build names, gathered where the build knows it: the
//! request (`externalParameters`, from the pipeline or `rebase`) and what the images
//! were made from (`resolvedDependencies`: the distribution, each platform's base, the
//! `--packages` jars, the `.deb` packages installed). Pure; the signing stage
//! ([`super::sign`]) turns it into signed statements.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::request::{Distribution, Request};
use super::{BuildOptions, Prepared};
use crate::fetch::DistSpec;
use crate::oci::Digest;
use crate::sign::provenance::{self, Dependency};

/// The images' dependencies: shared by every platform, and per platform (`os/arch`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependencies {
    pub common: Vec<Dependency>,
    pub per_platform: BTreeMap<String, Vec<Dependency>>,
}

impl Dependencies {
    /// What the manifest of `platform` was made from; `None` (an index, or a single
    /// platform's manifest listed on its own): every platform's.
    pub fn of(&self, platform: Option<&str>) -> Vec<Dependency> {
        let mut out = self.common.clone();
        for (p, deps) in &self.per_platform {
            if platform.is_none_or(|want| want == p) {
                out.extend(deps.iter().cloned());
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.common.is_empty() && self.per_platform.is_empty()
    }
}

/// How the statements are made: the build type and the request, exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    pub build_type: &'static str,
    pub external: Value,
}

impl Provenance {
    /// A rebase's: [`REBASE_TYPE`](provenance::REBASE_TYPE) and [`rebase_parameters`].
    pub fn of_rebase(opts: &super::rebase::RebaseOptions) -> Provenance {
        Provenance {
            build_type: provenance::REBASE_TYPE,
            external: rebase_parameters(opts),
        }
    }

    /// The predicate of a manifest made from `deps`.
    pub fn predicate(&self, deps: &[Dependency]) -> Value {
        provenance::predicate(
            self.build_type,
            self.external.clone(),
            deps,
            env!("CARGO_PKG_VERSION"),
        )
    }
}

/// A daemonless build's dependencies, from its options and planned platforms.
pub(super) fn of_build(opts: &BuildOptions, prepared: &[Prepared]) -> Dependencies {
    let mut common = Vec::new();
    if let Some(sha512) = &opts.origin.sha512 {
        common.push(Dependency {
            name: None,
            uri: opts.origin.source.clone(),
            digest: vec![("sha512".into(), sha512.clone())],
        });
    }
    common.extend(opts.packages.iter().map(|j| Dependency {
        name: Some(j.coordinate.clone()),
        uri: None,
        digest: vec![("sha256".into(), j.sha256.clone())],
    }));
    let mut per_platform = BTreeMap::new();
    for p in prepared {
        let mut deps = Vec::new();
        // A rootfs has no manifest digest: its content name (`rootfs@sha256:…`) carries
        // the digest of its bytes, so it is named too and a rebuild can check it.
        let digest = p.base.digest.as_deref().or_else(|| {
            crate::oci::reference::is_content_name(&p.base.name)
                .then(|| p.base.name.rsplit_once('@').map(|(_, d)| d))
                .flatten()
        });
        if let Some(d) = digest.and_then(|d| Digest::parse(d).ok()) {
            deps.push(Dependency::oci(&p.base.name, &d));
        }
        deps.extend(p.debs.iter().cloned());
        per_platform.insert(p.platform_name(), deps);
    }
    Dependencies {
        common,
        per_platform,
    }
}

/// A build's `externalParameters`: the request as content, enough to rebuild it. Never
/// a host path, mirror or clock: a base or `--dist` file on disk is named by its digest
/// (in `resolvedDependencies`), a release by its version and build.
pub fn build_parameters(req: &Request, opts: &BuildOptions) -> Value {
    let distribution = match &req.distribution {
        Distribution::Home(_) => json!({"kind": "spark-home"}),
        Distribution::Fetch {
            spec:
                DistSpec::Release {
                    version,
                    hadoop,
                    scala,
                },
            ..
        } => {
            json!({"kind": "release", "version": version.to_string(), "hadoop": hadoop, "scala": scala})
        }
        Distribution::Fetch { .. } => json!({"kind": "dist"}),
    };
    let platforms: Vec<String> = req.platforms.iter().map(|p| p.to_string()).collect();
    let images: Vec<Value> = opts
        .images
        .iter()
        .map(|(v, r)| json!({"variant": v.image_name(), "reference": r.to_string()}))
        .collect();
    let strings =
        |v: &[crate::maven::Coordinate]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    json!({
        "sparkVersion": opts.spark_version,
        "distribution": distribution,
        "base": req.base_ref.as_ref().map(|r| r.to_string()),
        "platforms": platforms,
        "images": images,
        "sourceDateEpoch": req.epoch,
        "timezone": req.timezone,
        "uid": req.uid,
        "aptPackages": req.apt_packages,
        "aptAllowUnconfigured": req.apt_allow_unconfigured,
        "packages": strings(&req.packages.coordinates),
        "excludePackages": req.packages.excludes.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "sbom": {"spdx": req.sbom.spdx, "cyclonedx": req.sbom.cyclonedx},
        "compression": req.compression.map(|c| format!("{c:?}").to_lowercase()),
        "compressionLevel": req.compression_level,
        "allowUnsupportedJava": req.allow_unsupported_java,
    })
}

/// A rebase's `externalParameters`: the image and base as registry references (one on
/// disk by its digest only, in `resolvedDependencies`), the platforms and the name.
pub fn rebase_parameters(opts: &super::rebase::RebaseOptions) -> Value {
    use crate::oci::BaseSpec;
    let named = |b: &BaseSpec| match b {
        BaseSpec::Registry(r) => Some(r.clone()),
        BaseSpec::Pulled { name, .. } => Some(name.clone()),
        _ => None,
    };
    let platforms: Vec<String> = opts.platforms.iter().map(|p| p.to_string()).collect();
    json!({
        "image": named(&opts.image),
        "base": named(&opts.base),
        "platforms": platforms,
        "to": opts.to.as_ref().map(|r| r.to_string()),
        "allowJavaChange": opts.allow_java_change,
        "allowUnsupportedJava": opts.allow_unsupported_java,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(name: &str) -> Dependency {
        Dependency {
            name: Some(name.into()),
            uri: None,
            digest: vec![("sha256".into(), "00".into())],
        }
    }

    #[test]
    fn a_platform_manifest_lists_its_own_platform_and_an_index_all() {
        let d = Dependencies {
            common: vec![dep("dist")],
            per_platform: [
                ("linux/amd64".to_string(), vec![dep("base-amd64")]),
                ("linux/arm64".to_string(), vec![dep("base-arm64")]),
            ]
            .into(),
        };
        assert_eq!(
            d.of(Some("linux/arm64")),
            vec![dep("dist"), dep("base-arm64")]
        );
        assert_eq!(d.of(None).len(), 3);
        assert!(!d.is_empty() && Dependencies::default().is_empty());
    }
}

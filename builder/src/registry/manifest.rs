//! Pure: manifest media types, platform selection in an index, and the blobs a manifest
//! references. Docker v2 schema 2 and OCI are both read; schema 1 is refused.

use serde::Deserialize;

use super::error::RegistryError;
use crate::oci::Platform;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// What we accept when pulling, most preferred first.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Index,
    Manifest,
}

pub fn kind_of(media_type: &str) -> Option<Kind> {
    match media_type {
        OCI_INDEX | DOCKER_LIST => Some(Kind::Index),
        OCI_MANIFEST | DOCKER_MANIFEST => Some(Kind::Manifest),
        _ => None,
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PlatformJson {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Desc {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub platform: Option<PlatformJson>,
    #[serde(default)]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
    /// Set on artifacts (an SBOM's referrer manifest), which are not images.
    #[serde(default)]
    pub artifact_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Desc>>,
    #[serde(default)]
    config: Option<Desc>,
    #[serde(default)]
    layers: Option<Vec<Desc>>,
    #[serde(default)]
    annotations: Option<std::collections::BTreeMap<String, String>>,
}

/// A parsed manifest or index.
// A handful are parsed per push or pull: boxing the manifest's fields buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Parsed {
    Index {
        media_type: String,
        manifests: Vec<Desc>,
    },
    Manifest {
        media_type: String,
        config: Desc,
        layers: Vec<Desc>,
        annotations: std::collections::BTreeMap<String, String>,
    },
}

/// Parse manifest bytes. The media type comes from the `Content-Type` header when the
/// body has none (OCI makes the field optional); the body wins when both are present.
pub fn parse(
    bytes: &[u8],
    content_type: Option<&str>,
    reference: &str,
) -> Result<Parsed, RegistryError> {
    let bad = |reason: String| RegistryError::Manifest {
        reference: reference.to_string(),
        reason,
    };
    let raw: Raw =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("manifest is not JSON: {e}")))?;
    if raw.schema_version == Some(1) {
        return Err(bad(
            "Docker schema 1 manifests are not supported (re-push the image with a current client)"
                .into(),
        ));
    }
    let ct = content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_string());
    let mt = raw
        .media_type
        .clone()
        .or(ct)
        .or_else(|| {
            // Neither says: infer from the shape, as containerd does.
            if raw.manifests.is_some() {
                Some(OCI_INDEX.to_string())
            } else if raw.config.is_some() {
                Some(OCI_MANIFEST.to_string())
            } else {
                None
            }
        })
        .ok_or_else(|| bad("manifest has no media type".into()))?;
    match kind_of(&mt) {
        Some(Kind::Index) => Ok(Parsed::Index {
            media_type: mt,
            manifests: raw.manifests.unwrap_or_default(),
        }),
        Some(Kind::Manifest) => Ok(Parsed::Manifest {
            media_type: mt,
            config: raw
                .config
                .ok_or_else(|| bad("manifest has no config".into()))?,
            layers: raw.layers.unwrap_or_default(),
            annotations: raw.annotations.unwrap_or_default(),
        }),
        None => Err(bad(format!("unsupported manifest media type {mt}"))),
    }
}

fn matches(p: &PlatformJson, want: &Platform) -> bool {
    Platform {
        os: p.os.clone(),
        arch: p.architecture.clone(),
        variant: p.variant.clone(),
    }
    .serves(want)
}

/// Pick the manifest for `want` from an index. Attestation manifests (BuildKit's
/// `unknown/unknown`) never match. With several candidates (arm64 with and without a
/// variant), an exact variant match wins, then the first.
pub fn select<'a>(
    manifests: &'a [Desc],
    want: &Platform,
    reference: &str,
) -> Result<&'a Desc, RegistryError> {
    let candidates: Vec<&Desc> = manifests
        .iter()
        .filter(|d| d.platform.as_ref().is_some_and(|p| matches(p, want)))
        .collect();
    let exact = candidates
        .iter()
        .find(|d| d.platform.as_ref().and_then(|p| p.variant.clone()) == want.variant);
    exact
        .or(candidates.first())
        .copied()
        .ok_or_else(|| RegistryError::NoPlatform {
            reference: reference.to_string(),
            platform: want.to_string(),
            available: manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| match &p.variant {
                    Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                    None => format!("{}/{}", p.os, p.architecture),
                })
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Pure: the image platforms an index lists, in its order (each once); attestations
/// (`unknown/unknown`) and artifacts are not images.
pub fn platforms(manifests: &[Desc]) -> Vec<Platform> {
    let mut out: Vec<Platform> = Vec::new();
    for d in manifests.iter().filter(|d| d.artifact_type.is_none()) {
        let Some(p) = &d.platform else { continue };
        if p.os == "unknown" || p.architecture == "unknown" {
            continue;
        }
        let p = Platform {
            os: p.os.clone(),
            arch: p.architecture.clone(),
            variant: p.variant.clone(),
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn plat(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn index_selection() {
        let idx = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[
              {{"mediaType":"{DOCKER_MANIFEST}","digest":"{D1}","size":1,"platform":{{"os":"linux","architecture":"arm","variant":"v7"}}}},
              {{"mediaType":"{DOCKER_MANIFEST}","digest":"sha256:a","size":2,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},
              {{"mediaType":"{DOCKER_MANIFEST}","digest":"sha256:b","size":3,"platform":{{"os":"linux","architecture":"amd64"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"sha256:c","size":4,"platform":{{"os":"unknown","architecture":"unknown"}}}}]}}"#
        );
        let Parsed::Index { manifests, .. } = parse(idx.as_bytes(), None, "x").unwrap() else {
            panic!("not an index");
        };
        assert_eq!(
            select(&manifests, &plat("linux/amd64"), "x").unwrap().size,
            3
        );
        assert_eq!(
            select(&manifests, &plat("linux/arm64"), "x").unwrap().size,
            2
        );
        assert_eq!(
            select(&manifests, &plat("linux/arm/v7"), "x").unwrap().size,
            1
        );
        let e = select(&manifests, &plat("linux/s390x"), "x").unwrap_err();
        assert!(e
            .to_string()
            .contains("linux/arm/v7, linux/arm64/v8, linux/amd64"));
        // Every image platform once, in index order; the attestation is none.
        let listed: Vec<String> = platforms(&manifests)
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(listed, ["linux/arm/v7", "linux/arm64/v8", "linux/amd64"]);
    }

    #[test]
    fn manifests_both_families() {
        let m = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{D1}","size":5}},"layers":[]}}"#
        );
        // No mediaType in the body: the Content-Type header decides.
        match parse(m.as_bytes(), Some(DOCKER_MANIFEST), "x").unwrap() {
            Parsed::Manifest {
                media_type, config, ..
            } => {
                assert_eq!(media_type, DOCKER_MANIFEST);
                assert_eq!(config.size, 5);
            }
            _ => panic!(),
        }
        assert!(matches!(
            parse(m.as_bytes(), None, "x").unwrap(),
            Parsed::Manifest { .. }
        ));
        assert!(parse(br#"{"schemaVersion":1}"#, None, "x").is_err());
        assert!(parse(br#"{"mediaType":"text/plain"}"#, None, "x").is_err());
    }
}

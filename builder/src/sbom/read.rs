//! Pure: sparkimg's own SPDX and CycloneDX documents read back into packages, the
//! inverse of [`super::spdx::document`] and [`super::cyclonedx::document`]. `rebase`
//! keeps what an image's SBOM says of its Spark layers this way, without downloading
//! them. Documents of other tools are not understood (`None`).

use serde_json::Value;

use super::{Format, Kind, Package};

/// The packages of a document in `format`; `None` when it is not one sparkimg wrote.
pub fn packages(format: Format, doc: &Value) -> Option<Vec<Package>> {
    match format {
        Format::Spdx => spdx_packages(doc),
        Format::CycloneDx => cyclonedx_packages(doc),
    }
}

/// The writers show jars, Python archives, OS packages and crates alike (libraries);
/// the purl tells them apart.
fn library_kind(purl: &str) -> Kind {
    match purl.split('/').next().unwrap_or_default() {
        "pkg:deb" | "pkg:apk" => Kind::Os,
        "pkg:pypi" => Kind::Python,
        "pkg:cargo" => Kind::Crate,
        _ => Kind::Jar,
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(String::from)
}

fn spdx_package(v: &Value) -> Option<Package> {
    let purl = v["externalRefs"]
        .as_array()?
        .iter()
        .find(|r| r["referenceType"] == "purl")
        .and_then(|r| text(&r["referenceLocator"]))?;
    let kind = match v["primaryPackagePurpose"].as_str()? {
        "FRAMEWORK" => Kind::Spark,
        "APPLICATION" => Kind::Entrypoint,
        "CONTAINER" => Kind::Base,
        _ => library_kind(&purl),
    };
    let full = v["name"].as_str()?;
    // Maven packages are written `group:artifact`; groupIds hold no `:`.
    let (group, name) = match full.split_once(':') {
        Some((g, n)) if purl.starts_with("pkg:maven/") => (Some(g.to_string()), n),
        _ => (None, full),
    };
    let version = v["versionInfo"].as_str().unwrap_or_default();
    let mut p = Package::new(kind, name, version, purl);
    p.group = group;
    p.path = text(&v["packageFileName"]);
    p.comment = text(&v["comment"]);
    p.download = text(&v["downloadLocation"]).filter(|d| d != "NOASSERTION");
    for c in v["checksums"].as_array().into_iter().flatten() {
        let value = text(&c["checksumValue"]);
        match c["algorithm"].as_str() {
            Some("SHA1") => p.sha1 = value,
            Some("SHA256") => p.sha256 = value,
            Some("SHA512") => p.sha512 = value,
            _ => {}
        }
    }
    Some(p)
}

/// SPDX: the image's packages are what it CONTAINS or DESCENDS from; a package's own
/// CONTAINS relationships are what was shaded or linked into it.
fn spdx_packages(doc: &Value) -> Option<Vec<Package>> {
    const IMAGE: &str = "SPDXRef-Image";
    let mut by_id = std::collections::BTreeMap::new();
    for v in doc["packages"].as_array()? {
        let id = v["SPDXID"].as_str()?;
        if id != IMAGE {
            by_id.insert(id.to_string(), spdx_package(v)?);
        }
    }
    let mut top: Vec<(String, Package)> = Vec::new();
    let mut nested: Vec<(String, String)> = Vec::new();
    for r in doc["relationships"].as_array()? {
        let (from, to) = (
            r["spdxElementId"].as_str()?,
            r["relatedSpdxElement"].as_str()?,
        );
        match from {
            "SPDXRef-DOCUMENT" => {}
            IMAGE => top.push((to.to_string(), by_id.get(to)?.clone())),
            _ => nested.push((from.to_string(), to.to_string())),
        }
    }
    for (parent, child) in nested {
        let c = by_id.get(&child)?.clone();
        top.iter_mut()
            .find(|(id, _)| *id == parent)?
            .1
            .contains
            .push(c);
    }
    Some(top.into_iter().map(|(_, p)| p).collect())
}

fn cyclonedx_package(v: &Value) -> Option<Package> {
    let purl = text(&v["purl"])?;
    let kind = match v["type"].as_str()? {
        "framework" => Kind::Spark,
        "application" => Kind::Entrypoint,
        "container" => Kind::Base,
        _ => library_kind(&purl),
    };
    let version = v["version"].as_str().unwrap_or_default();
    let mut p = Package::new(kind, v["name"].as_str()?, version, purl);
    p.group = text(&v["group"]);
    for h in v["hashes"].as_array().into_iter().flatten() {
        let value = text(&h["content"]);
        match h["alg"].as_str() {
            Some("SHA-1") => p.sha1 = value,
            Some("SHA-256") => p.sha256 = value,
            Some("SHA-512") => p.sha512 = value,
            _ => {}
        }
    }
    for prop in v["properties"].as_array().into_iter().flatten() {
        match prop["name"].as_str() {
            Some("sparkimg:path") => p.path = text(&prop["value"]),
            Some("sparkimg:comment") => p.comment = text(&prop["value"]),
            _ => {}
        }
    }
    p.download = v["externalReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["type"] == "distribution")
        .and_then(|r| text(&r["url"]));
    p.contains = v["components"]
        .as_array()
        .into_iter()
        .flatten()
        .map(cyclonedx_package)
        .collect::<Option<_>>()?;
    Some(p)
}

/// CycloneDX: the top-level components, each with the components nested in it.
fn cyclonedx_packages(doc: &Value) -> Option<Vec<Package>> {
    doc["components"]
        .as_array()?
        .iter()
        .map(cyclonedx_package)
        .collect()
}

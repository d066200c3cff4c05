//! Pure: an [`Inventory`] as a CycloneDX 1.5 JSON BOM. The image is the metadata
//! component; every package is a component (a shaded jar nests what was shaded into
//! it), and the image depends on each top-level component.

use serde_json::{json, Value};

use super::{uuid_for, Inventory, Kind, Package};
use crate::oci::json::{canonical, rfc3339, JsonBlob};

const IMAGE_REF: &str = "image";

/// The BOM, canonical; its serial number is derived from the image digest.
pub fn document(inv: &Inventory) -> JsonBlob {
    let components: Vec<Value> = inv.packages.iter().map(|p| component(p, None)).collect();
    let depends: Vec<String> = inv.packages.iter().map(|p| p.id(None)).collect();
    let mut metadata = json!({
        "timestamp": rfc3339(inv.created),
        "tools": {"components": [{
            "type": "application",
            "name": "sparkimg",
            "version": env!("CARGO_PKG_VERSION"),
        }]},
        "component": {
            "type": "container",
            "bom-ref": IMAGE_REF,
            "name": inv.reference,
            "version": inv.digest,
            "purl": inv.image_purl(),
            "hashes": [{"alg": "SHA-256", "content": inv.digest.trim_start_matches("sha256:")}],
            "properties": [{"name": "sparkimg:platform", "value": inv.platform}],
        },
    });
    if !inv.notes.is_empty() {
        metadata["properties"] = json!(inv
            .notes
            .iter()
            .map(|n| json!({"name": "sparkimg:note", "value": n}))
            .collect::<Vec<_>>());
    }
    canonical(json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", uuid_for(&inv.digest)),
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": [{"ref": IMAGE_REF, "dependsOn": depends}],
    }))
}

fn component(p: &Package, parent: Option<&str>) -> Value {
    let id = p.id(parent);
    let kind = match p.kind {
        Kind::Spark => "framework",
        Kind::Entrypoint => "application",
        Kind::Base => "container",
        Kind::Jar | Kind::Python | Kind::Os | Kind::Crate => "library",
    };
    let hashes: Vec<Value> = [
        ("SHA-1", &p.sha1),
        ("SHA-256", &p.sha256),
        ("SHA-512", &p.sha512),
    ]
    .into_iter()
    .filter_map(|(alg, v)| v.as_ref().map(|v| json!({"alg": alg, "content": v})))
    .collect();
    let mut v = json!({"type": kind, "bom-ref": id, "name": p.name, "purl": p.purl});
    if !p.version.is_empty() {
        v["version"] = json!(p.version);
    }
    if let Some(g) = &p.group {
        v["group"] = json!(g);
    }
    if !hashes.is_empty() {
        v["hashes"] = json!(hashes);
    }
    let mut props = Vec::new();
    if let Some(path) = &p.path {
        props.push(json!({"name": "sparkimg:path", "value": path}));
    }
    if let Some(c) = &p.comment {
        props.push(json!({"name": "sparkimg:comment", "value": c}));
    }
    if !props.is_empty() {
        v["properties"] = json!(props);
    }
    if let Some(d) = &p.download {
        v["externalReferences"] = json!([{"type": "distribution", "url": d}]);
    }
    if !p.contains.is_empty() {
        v["components"] = json!(p
            .contains
            .iter()
            .map(|c| component(c, Some(&id)))
            .collect::<Vec<_>>());
    }
    v
}

//! Pure: an [`Inventory`] as an SPDX 2.3 JSON document. The image is the described
//! package; it CONTAINS every package, a shaded jar CONTAINS what was shaded into it,
//! and the image is a DESCENDANT_OF its base.

use serde_json::{json, Value};

use super::{Inventory, Kind, Package};
use crate::oci::json::{canonical, rfc3339, JsonBlob};

const IMAGE_ID: &str = "SPDXRef-Image";

/// The document, canonical (sorted keys, packages in inventory order, which is sorted).
pub fn document(inv: &Inventory) -> JsonBlob {
    let hex = inv.digest.trim_start_matches("sha256:");
    let mut packages = vec![image_package(inv)];
    let mut relationships = vec![relationship("SPDXRef-DOCUMENT", "DESCRIBES", IMAGE_ID)];
    for p in &inv.packages {
        let id = p.id(None);
        packages.push(package(p, &id));
        let kind = if p.kind == Kind::Base {
            "DESCENDANT_OF"
        } else {
            "CONTAINS"
        };
        relationships.push(relationship(IMAGE_ID, kind, &id));
        for c in &p.contains {
            let cid = c.id(Some(&id));
            packages.push(package(c, &cid));
            relationships.push(relationship(&id, "CONTAINS", &cid));
        }
    }
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{} ({})", inv.reference, inv.platform),
        "documentNamespace": format!("https://sparkimg.dev/spdx/sha256-{hex}"),
        "creationInfo": {
            "created": rfc3339(inv.created),
            "creators": [format!("Tool: {}", Inventory::tool())],
        },
        "documentDescribes": [IMAGE_ID],
        "packages": packages,
        "relationships": relationships,
    });
    if !inv.notes.is_empty() {
        doc["comment"] = json!(inv.notes.join("\n"));
    }
    canonical(doc)
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({"spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to})
}

fn image_package(inv: &Inventory) -> Value {
    json!({
        "SPDXID": IMAGE_ID,
        "name": inv.reference,
        "versionInfo": inv.digest,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "checksums": [{"algorithm": "SHA256", "checksumValue": inv.digest.trim_start_matches("sha256:")}],
        "externalRefs": [purl_ref(&inv.image_purl())],
        "comment": format!("platform {}", inv.platform),
    })
}

fn purl_ref(purl: &str) -> Value {
    json!({"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl})
}

fn package(p: &Package, id: &str) -> Value {
    let purpose = match p.kind {
        Kind::Spark => "FRAMEWORK",
        Kind::Entrypoint => "APPLICATION",
        Kind::Base => "CONTAINER",
        Kind::Jar | Kind::Python | Kind::Os | Kind::Crate => "LIBRARY",
    };
    let checksums: Vec<Value> = [
        ("SHA1", &p.sha1),
        ("SHA256", &p.sha256),
        ("SHA512", &p.sha512),
    ]
    .into_iter()
    .filter_map(|(alg, v)| {
        v.as_ref()
            .map(|v| json!({"algorithm": alg, "checksumValue": v}))
    })
    .collect();
    let name = match &p.group {
        Some(g) => format!("{g}:{}", p.name),
        None => p.name.clone(),
    };
    let mut v = json!({
        "SPDXID": id,
        "name": name,
        "downloadLocation": p.download.as_deref().unwrap_or("NOASSERTION"),
        "filesAnalyzed": false,
        "primaryPackagePurpose": purpose,
        "externalRefs": [purl_ref(&p.purl)],
    });
    if !p.version.is_empty() {
        v["versionInfo"] = json!(p.version);
    }
    if !checksums.is_empty() {
        v["checksums"] = json!(checksums);
    }
    if let Some(path) = &p.path {
        v["packageFileName"] = json!(path);
    }
    if let Some(c) = &p.comment {
        v["comment"] = json!(c);
    }
    v
}

//! Manifests, indexes and configs from registries and layouts: parsed or refused with
//! an error, never a panic; a parsed index's platform selection never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sparkimg::oci::Platform;
use sparkimg::registry::manifest::{self, Parsed};

const TYPES: &[Option<&str>] = &[
    None,
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/vnd.docker.distribution.manifest.list.v2+json"),
    Some("text/plain"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&t, body)) = data.split_first() else {
        return;
    };
    let ct = TYPES[t as usize % TYPES.len()];
    if let Ok(Parsed::Index { manifests, .. }) = manifest::parse(body, ct, "fuzz/img:1") {
        for p in ["linux/amd64", "linux/arm64/v8", "windows/amd64"] {
            let _ = manifest::select(&manifests, &Platform::parse(p).unwrap(), "fuzz/img:1");
        }
    }
    // Configs are read through serde like the base opener does.
    let _ = serde_json::from_slice::<serde_json::Value>(body);
});

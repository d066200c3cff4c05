//! Pure: the image config, manifests and index as canonical JSON (keys sorted at every
//! level, no whitespace), so equal inputs give equal bytes and digests.

use std::collections::BTreeMap;

use crate::digest::Sha256;
use serde_json::{json, Map, Value};

use super::layer::LayerBlob;

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A serialised blob: bytes plus its descriptor fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonBlob {
    pub bytes: Vec<u8>,
    pub digest: String,
}

impl JsonBlob {
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
}

fn sort_value(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.sort_keys();
            m.values_mut().for_each(sort_value);
        }
        Value::Array(a) => a.iter_mut().for_each(sort_value),
        _ => {}
    }
}

pub fn canonical(mut v: Value) -> JsonBlob {
    sort_value(&mut v);
    let bytes = serde_json::to_vec(&v).unwrap_or_default();
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    JsonBlob { bytes, digest }
}

/// RFC 3339 UTC for seconds since the epoch (civil-from-days, H. Hinnant).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Pure: seconds since the epoch of an [`rfc3339`] time (`YYYY-MM-DDTHH:MM:SSZ`, UTC,
/// as `build` writes it; days-from-civil, H. Hinnant); `None` for any other form.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let shape = b.len() == 20
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b'T'
        && [13, 16].iter().all(|&i| b[i] == b':')
        && b[19] == b'Z';
    if !shape {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = &s[r];
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86400 + hh * 3600 + mm * 60 + ss;
    let secs = u64::try_from(secs).ok()?;
    // Only a time `rfc3339` gives back unchanged (no 31 February).
    (rfc3339(secs) == s).then_some(secs)
}

/// What our layers add to the base config.
#[derive(Debug, Clone)]
pub struct ConfigInputs<'a> {
    pub created: u64,
    pub spark_version: &'a str,
    pub java_home: &'a str,
    pub timezone: &'a str,
    pub uid: u64,
    /// Our layers with a `created_by` text each.
    pub layers: Vec<(&'a LayerBlob, String)>,
    pub labels: BTreeMap<String, String>,
}

/// Env as `KEY=VALUE` lines, merged by key (ours win), sorted for determinism.
pub fn merge_env(base: &[String], inputs: &ConfigInputs) -> Vec<String> {
    let mut env: BTreeMap<String, String> = base
        .iter()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let path = env
        .get("PATH")
        .cloned()
        .unwrap_or_else(|| DEFAULT_PATH.into());
    let path = if path.split(':').any(|p| p == "/opt/spark/bin") {
        path
    } else {
        format!("{path}:/opt/spark/bin")
    };
    env.insert("PATH".into(), path);
    env.insert("JAVA_HOME".into(), inputs.java_home.into());
    env.insert("SPARK_HOME".into(), "/opt/spark".into());
    env.insert("SPARK_VERSION".into(), inputs.spark_version.into());
    env.insert("TZ".into(), inputs.timezone.into());
    env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// The runtime part of a config's `config` object, changed in place: the base's, with
/// our Env, Entrypoint (no Cmd), WorkingDir, User and labels. Also the whole config the
/// Docker Engine path commits (`engine::build`), so both paths run alike.
pub fn set_runtime(c: &mut Map<String, Value>, inputs: &ConfigInputs) {
    let base_env: Vec<String> = c
        .get("Env")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    c.insert("Env".into(), json!(merge_env(&base_env, inputs)));
    c.insert("Entrypoint".into(), json!(["/opt/spark-entrypoint"]));
    // The base's Cmd (a shell, jshell) would become arguments of our entrypoint.
    c.remove("Cmd");
    c.insert("WorkingDir".into(), json!("/opt/spark/work-dir"));
    c.insert("User".into(), json!(inputs.uid.to_string()));
    let mut labels: Map<String, Value> = c
        .get("Labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in &inputs.labels {
        labels.insert(k.clone(), json!(v));
    }
    c.insert("Labels".into(), Value::Object(labels));
}

/// The image config: the base's, with our runtime settings, labels, layers and history.
pub fn image_config(base: &Value, inputs: &ConfigInputs) -> JsonBlob {
    let mut cfg = base.clone();
    if !cfg.is_object() {
        cfg = json!({});
    }
    let created = rfc3339(inputs.created);
    let obj = cfg.as_object_mut().expect("object");
    obj.insert("created".into(), json!(created));
    let c = obj.entry("config").or_insert_with(|| json!({}));
    if !c.is_object() {
        *c = json!({});
    }
    set_runtime(c.as_object_mut().expect("object"), inputs);

    let rootfs = obj
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
    let base_layers = rootfs
        .get("diff_ids")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let mut diff_ids: Vec<Value> = rootfs
        .get("diff_ids")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    diff_ids.extend(inputs.layers.iter().map(|(l, _)| json!(l.diff_id)));
    rootfs["diff_ids"] = Value::Array(diff_ids);
    rootfs["type"] = json!("layers");

    // history must have one non-empty entry per layer; rebuild the base's when it does not.
    let mut history: Vec<Value> = obj
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let non_empty = history
        .iter()
        .filter(|h| {
            !h.get("empty_layer")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .count();
    if non_empty != base_layers {
        history = (0..base_layers)
            .map(|_| json!({"created": created, "created_by": "base image layer"}))
            .collect();
    }
    for (_, by) in &inputs.layers {
        history.push(json!({"created": created, "created_by": by, "comment": super::assemble::HISTORY_COMMENT}));
    }
    obj.insert("history".into(), Value::Array(history));
    canonical(cfg)
}

/// An OCI image manifest.
pub fn manifest(
    config: &JsonBlob,
    layers: &[&LayerBlob],
    annotations: &BTreeMap<String, String>,
) -> JsonBlob {
    let layers: Vec<Value> = layers
        .iter()
        .map(|l| json!({"mediaType": l.media_type, "digest": l.digest, "size": l.size}))
        .collect();
    canonical(json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": config.digest, "size": config.size()},
        "layers": layers,
        "annotations": annotations,
    }))
}

/// One platform's image manifest, as an index lists it.
#[derive(Debug, Clone)]
pub struct PlatformManifest {
    pub manifest: JsonBlob,
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl PlatformManifest {
    fn descriptor(&self) -> Value {
        let mut platform = json!({"os": self.os, "architecture": self.arch});
        if let Some(v) = &self.variant {
            platform["variant"] = json!(v);
        }
        json!({
            "mediaType": MANIFEST_TYPE,
            "digest": self.manifest.digest,
            "size": self.manifest.size(),
            "platform": platform,
        })
    }
}

/// What an `index.json` entry points at: one platform's manifest, or an index of several.
#[derive(Debug, Clone)]
pub enum Target {
    Manifest(PlatformManifest),
    Index(JsonBlob),
}

/// One `index.json` entry.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    pub target: Target,
    pub ref_name: String,
    pub full_name: String,
}

/// The image index of one multi-platform image (what its tag points at once pushed).
pub fn platform_index(manifests: &[PlatformManifest]) -> JsonBlob {
    let manifests: Vec<Value> = manifests.iter().map(PlatformManifest::descriptor).collect();
    canonical(json!({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": manifests}))
}

/// The layout's `index.json`: one entry per image, named by its reference.
pub fn index(entries: &[IndexEntry]) -> JsonBlob {
    let manifests: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut d = match &e.target {
                Target::Manifest(m) => m.descriptor(),
                Target::Index(i) => {
                    json!({"mediaType": INDEX_TYPE, "digest": i.digest, "size": i.size()})
                }
            };
            d["annotations"] = json!({
                "org.opencontainers.image.ref.name": e.ref_name,
                "io.containerd.image.name": e.full_name,
            });
            d
        })
        .collect();
    canonical(json!({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": manifests}))
}

/// The empty config of an artifact manifest (OCI 1.1: `{}`, its own media type).
pub const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// An OCI 1.1 artifact manifest that refers to `subject` (a manifest descriptor): the
/// document `doc` as its one layer, typed `artifact_type` (an SBOM's referrer).
pub fn referrer(artifact_type: &str, doc: &JsonBlob, subject: &Value, created: &str) -> JsonBlob {
    let empty = format!("sha256:{}", hex::encode(Sha256::digest(EMPTY_CONFIG)));
    canonical(json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_TYPE, "digest": empty, "size": EMPTY_CONFIG.len()},
        "layers": [{"mediaType": artifact_type, "digest": doc.digest, "size": doc.size()}],
        "subject": subject,
        "annotations": {"org.opencontainers.image.created": created},
    }))
}

/// `index` with `extra` descriptors appended (referrers listed beside the images).
pub fn with_manifests(index: &JsonBlob, extra: Vec<Value>) -> JsonBlob {
    let mut v: Value = serde_json::from_slice(&index.bytes).unwrap_or_else(|_| json!({}));
    if let Some(list) = v.get_mut("manifests").and_then(Value::as_array_mut) {
        list.extend(extra);
    }
    canonical(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        for secs in [0, 1, 59, 86_399, 951_782_400, 1_700_000_000, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs), "{secs}");
        }
        for bad in [
            "",
            "2023-11-14T22:13:20",
            "2023-11-14 22:13:20Z",
            "2023-02-31T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-11-14T24:00:00Z",
            "+023-11-14T22:13:20Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn config_merge() {
        let blob = LayerBlob {
            digest: "sha256:aa".into(),
            diff_id: "sha256:bb".into(),
            size: 3,
            media_type: "x".into(),
        };
        let base = json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "Cmd": ["jshell"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:00"]},
            "history": [{"created_by": "x", "empty_layer": true}, {"created_by": "y"}],
        });
        let inputs = ConfigInputs {
            created: 0,
            spark_version: "3.5.3",
            java_home: "/opt/java/openjdk",
            timezone: "UTC",
            uid: 185,
            layers: vec![(&blob, "spark-deps".into())],
            labels: BTreeMap::from([("org.opencontainers.image.version".into(), "3.5.3".into())]),
        };
        let c = image_config(&base, &inputs);
        let v: Value = serde_json::from_slice(&c.bytes).unwrap();
        assert_eq!(v["config"]["Env"][2], "PATH=/usr/bin:/bin:/opt/spark/bin");
        assert_eq!(v["config"]["Env"][0], "JAVA_HOME=/opt/java/openjdk");
        assert!(v["config"].get("Cmd").is_none());
        assert_eq!(v["config"]["User"], "185");
        assert_eq!(v["rootfs"]["diff_ids"], json!(["sha256:00", "sha256:bb"]));
        assert_eq!(v["history"].as_array().unwrap().len(), 3);
        // Deterministic: same inputs, same bytes.
        assert_eq!(c, image_config(&base, &inputs));
    }
}

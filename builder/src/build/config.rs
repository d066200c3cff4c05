//! Pure: the image config our layers give the base's config (environment, user,
//! working directory, entrypoint, labels, history, diff IDs), as canonical JSON.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::oci::json::{canonical, rfc3339, JsonBlob, LayerBlob, HISTORY_COMMENT};

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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
    // A base built by sparkimg must not lend this image its distribution's source,
    // sha512 or packages when this one has none.
    labels.retain(|k, _| !super::assemble::OWN_LABELS.contains(&k.as_str()));
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
        history.push(json!({"created": created, "created_by": by, "comment": HISTORY_COMMENT}));
    }
    obj.insert("history".into(), Value::Array(history));
    canonical(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "config": {"Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "Cmd": ["jshell"],
                // A sparkimg-built base's own: not this image's.
                "Labels": {"org.opencontainers.image.source": "https://x", "vendor": "v",
                           "dev.sparkimg.spark.sha512": "ab"}},
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
        assert_eq!(
            v["config"]["Labels"],
            json!({"vendor": "v", "org.opencontainers.image.version": "3.5.3"})
        );
        // Deterministic: same inputs, same bytes.
        assert_eq!(c, image_config(&base, &inputs));
    }
}

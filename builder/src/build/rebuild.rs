//! `sparkimg verify --rebuild`, the pure part: a verified provenance's
//! `externalParameters` turned back into `sparkimg build` flags, and the rebuild's
//! provenance and digest compared with the image's. The provenance names inputs by
//! content (a release by version, a base and jars by digest), never by where they were on
//! the build host, so the user passes the sources (`--spark-home`, `--dist`, `--mirror`,
//! `--base`, `--entrypoint-binary`, `--cache-dir`, …) and each is checked against the
//! digest the provenance names: a wrong input is reported by name, not as a digest
//! mismatch.

use serde_json::Value;

use super::verify::Check;
use super::BuildError;
use crate::sign::provenance;

/// What a rebuild runs: build flags and `SOURCE_DATE_EPOCH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub flags: Vec<String>,
    pub epoch: Option<String>,
}

/// Flags the rebuild sets itself (it writes a scratch layout and signs with a key of its
/// own, to read its provenance back): refused among the user's.
const OWN_FLAGS: &[&str] = &[
    "--output",
    "--push",
    "--load",
    "--sign-key",
    "--sign-keyless",
    "--provenance",
    "--engine",
];

fn given(flags: &[String], name: &str) -> bool {
    flags
        .iter()
        .any(|f| f == name || f.starts_with(&format!("{name}=")))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect()
}

/// The build flags repeating `predicate`'s request, before the user's `sources` (which
/// must not set what the rebuild sets itself). A release is named by version and build;
/// a `--spark-home` or `--dist` build, or a base on disk, needs its source among
/// `sources`.
pub fn plan(predicate: &Value, sources: &[String]) -> Result<Plan, BuildError> {
    let bd = &predicate["buildDefinition"];
    if bd["buildType"] != provenance::BUILD_TYPE {
        let message = format!(
            "--rebuild repeats `sparkimg build`; this image's provenance is of {}",
            bd["buildType"]
        );
        let hint = "verify --rebuild the image the rebase started from; a rebase's result is \
                    checked by its signature and provenance";
        return Err(BuildError::Usage(
            crate::usage::UsageError::new(message).with_hint(hint),
        ));
    }
    if let Some(own) = OWN_FLAGS.iter().find(|f| given(sources, f)) {
        let message = format!(
            "{own} among the rebuild's flags: the rebuild writes a scratch layout and signs \
             it with a key of its own"
        );
        let hint = "after `--` pass only the sources: --spark-home, --dist, --mirror, --base, \
                    --entrypoint-binary, --repositories, --cache-dir";
        return Err(BuildError::Usage(
            crate::usage::UsageError::new(message).with_hint(hint),
        ));
    }
    let x = &bd["externalParameters"];
    let mut flags = Vec::new();
    let dist = &x["distribution"];
    let local = given(sources, "--spark-home") || given(sources, "--dist");
    if dist["kind"] == "release" && !local {
        for (flag, key) in [("--spark-version", "version"), ("--hadoop", "hadoop")] {
            if let Some(v) = dist[key].as_str() {
                flags.push(format!("{flag}={v}"));
            }
        }
        if let Some(v) = dist["scala"].as_str() {
            flags.push(format!("--scala={v}"));
        }
    }
    if let (Some(b), false) = (x["base"].as_str(), given(sources, "--base")) {
        flags.push(format!("--base={b}"));
    }
    let platforms = strings(&x["platforms"]);
    if !platforms.is_empty() {
        flags.push(format!("--platform={}", platforms.join(",")));
    }
    for image in x["images"].as_array().into_iter().flatten() {
        let reference = image["reference"].as_str().unwrap_or_default();
        match image["variant"].as_str() {
            Some("spark-py") => flags.extend(["-p".into(), format!("--python-name={reference}")]),
            Some("spark-r") => flags.extend(["-R".into(), format!("--r-name={reference}")]),
            _ => flags.push(format!("--name={reference}")),
        }
    }
    flags.extend(request_flags(x));
    Ok(Plan {
        flags,
        epoch: x["sourceDateEpoch"].as_u64().map(|e| e.to_string()),
    })
}

/// The flags of the request's settings that are not inputs.
fn request_flags(x: &Value) -> Vec<String> {
    let mut flags = Vec::new();
    if let Some(tz) = x["timezone"].as_str() {
        flags.push(format!("--timezone={tz}"));
    }
    if let Some(uid) = x["uid"].as_u64() {
        flags.push(format!("--uid={uid}"));
    }
    for (flag, key) in [
        ("--apt-packages", "aptPackages"),
        ("--apt-allow-unconfigured", "aptAllowUnconfigured"),
        ("--packages", "packages"),
        ("--exclude-packages", "excludePackages"),
    ] {
        let list = strings(&x[key]);
        if !list.is_empty() {
            flags.push(format!("{flag}={}", list.join(",")));
        }
    }
    let sbom = match (x["sbom"]["spdx"] == true, x["sbom"]["cyclonedx"] == true) {
        (true, true) => "both",
        (true, false) => "spdx",
        (false, true) => "cyclonedx",
        (false, false) => "none",
    };
    flags.push(format!("--sbom={sbom}"));
    if let Some(c) = x["compression"].as_str() {
        flags.push(format!("--compression={c}"));
    }
    if let Some(l) = x["compressionLevel"].as_i64() {
        flags.push(format!("--compression-level={l}"));
    }
    if x["allowUnsupportedJava"] == true {
        flags.push("--allow-unsupported-java".into());
    }
    flags
}

/// A dependency's identity (its name, else its URI) and its digests as `alg:hex`.
fn dependencies(predicate: &Value) -> Vec<(String, String)> {
    let deps = predicate["buildDefinition"]["resolvedDependencies"].as_array();
    deps.into_iter()
        .flatten()
        .map(|d| {
            let id = d["name"].as_str().or(d["uri"].as_str()).unwrap_or("?");
            // A base on disk is named by its content (`rootfs@sha256:…`): what identifies
            // the input is the part before its digest.
            let id = match id.rsplit_once('@') {
                Some((head, tail)) if tail.starts_with("sha256:") => head,
                _ => id,
            };
            let digests: Vec<String> = d["digest"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(alg, hex)| format!("{alg}:{}", hex.as_str().unwrap_or_default()))
                .collect();
            (id.to_string(), digests.join(" "))
        })
        .collect()
}

fn check(name: &'static str, digest: &str, outcome: Result<String, (String, &str)>) -> Check {
    let (ok, detail, fix) = match outcome {
        Ok(d) => (true, d, None),
        Err((d, f)) => (false, d, Some(f.to_string())),
    };
    Check {
        check: name,
        digest: digest.to_string(),
        ok,
        detail,
        fix,
    }
}

const WRONG_INPUT: &str = "pass the source the image was built from (--spark-home, --dist, \
                           --mirror, --base, --packages' repositories): its digest must be the \
                           one the provenance names";

/// One `input` check per dependency the provenance names (and per one the rebuild used
/// that it does not name), then `parameters` (the rebuild's request is the image's) and
/// `rebuild` (the digests), for image `want` rebuilt as `got`.
pub fn compare(original: &Value, rebuilt: &Value, want: &str, got: &str) -> Vec<Check> {
    let (was, now) = (dependencies(original), dependencies(rebuilt));
    let mut checks = Vec::new();
    for (id, digest) in &was {
        let same_name: Vec<&String> = now
            .iter()
            .filter(|(i, _)| i == id)
            .map(|(_, d)| d)
            .collect();
        let outcome = match same_name.contains(&digest) {
            true => Ok(format!("{id}: {digest}, as the provenance names")),
            false if same_name.is_empty() => Err((
                format!("{id} ({digest}) is not among the rebuild's inputs"),
                WRONG_INPUT,
            )),
            false => Err((
                format!(
                    "{id} differs: the provenance names {digest}, the source given is {}",
                    same_name[0]
                ),
                WRONG_INPUT,
            )),
        };
        checks.push(check("input", want, outcome));
    }
    for (id, digest) in now.iter().filter(|d| !was.contains(d)) {
        if !was.iter().any(|(i, _)| i == id) {
            let detail =
                format!("the rebuild used {id} ({digest}), which the provenance does not name");
            checks.push(check("input", want, Err((detail, WRONG_INPUT))));
        }
    }
    let (a, b) = (
        &original["buildDefinition"]["externalParameters"],
        &rebuilt["buildDefinition"]["externalParameters"],
    );
    let differ: Vec<&String> = a
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| b.get(k.as_str()) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    let outcome = match differ.is_empty() {
        true => Ok("the rebuild's request is the provenance's externalParameters".into()),
        false => Err((
            format!("the rebuild's request differs in {differ:?}"),
            "pass only sources among the rebuild's flags: the rest comes from the provenance",
        )),
    };
    checks.push(check("parameters", want, outcome));
    let inputs_differ = checks.iter().any(|c| !c.ok);
    let outcome = match (want == got, inputs_differ) {
        (true, _) => Ok(format!("rebuilt to the same digest {got}")),
        (false, true) => Err((
            format!("rebuilt to {got}, from the inputs or request that differ above"),
            WRONG_INPUT,
        )),
        (false, false) => Err((
            format!("rebuilt to {got}"),
            "the same inputs and request gave other bytes: report it, with both layouts",
        )),
    };
    checks.push(check("rebuild", want, outcome));
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn predicate(base_digest: &str) -> Value {
        json!({"buildDefinition": {
            "buildType": provenance::BUILD_TYPE,
            "externalParameters": {
                "distribution": {"kind": "release", "version": "3.5.1", "hadoop": "3", "scala": null},
                "base": "eclipse-temurin:17-jre", "platforms": ["linux/amd64"],
                "images": [{"variant": "spark", "reference": "r/spark:1"},
                           {"variant": "spark-py", "reference": "r/spark-py:1"}],
                "sourceDateEpoch": 7, "timezone": "UTC", "uid": 185, "aptPackages": [],
                "packages": ["g:a:1"], "sbom": {"spdx": true, "cyclonedx": false},
                "compression": null, "allowUnsupportedJava": false,
            },
            "resolvedDependencies": [
                {"name": "eclipse-temurin:17-jre", "digest": {"sha256": base_digest}},
                {"uri": "https://archive.apache.org/dist/spark/x.tgz", "digest": {"sha512": "ab"}},
            ],
        }})
    }

    #[test]
    fn the_request_comes_back_as_flags_and_sources_win() {
        let p = plan(&predicate("01"), &[]).unwrap();
        assert_eq!(p.epoch.as_deref(), Some("7"));
        for f in [
            "--spark-version=3.5.1",
            "--hadoop=3",
            "--base=eclipse-temurin:17-jre",
            "--platform=linux/amd64",
            "--name=r/spark:1",
            "-p",
            "--python-name=r/spark-py:1",
            "--uid=185",
            "--packages=g:a:1",
            "--sbom=spdx",
        ] {
            assert!(p.flags.iter().any(|x| x == f), "{f} in {:?}", p.flags);
        }
        let sources = ["--spark-home=/s".to_string(), "--base=oci:/b".to_string()];
        let p = plan(&predicate("01"), &sources).unwrap();
        assert!(!p
            .flags
            .iter()
            .any(|f| f.starts_with("--base") || f.starts_with("--hadoop")));
        let err = plan(&predicate("01"), &["--push".to_string()]).unwrap_err();
        assert!(err.to_string().contains("--push"), "{err}");
        let mut rebase = predicate("01");
        rebase["buildDefinition"]["buildType"] = provenance::REBASE_TYPE.into();
        assert!(plan(&rebase, &[]).is_err());
    }

    #[test]
    fn a_different_input_is_named_before_the_digest() {
        let same = compare(&predicate("01"), &predicate("01"), "sha256:a", "sha256:a");
        assert!(same.iter().all(|c| c.ok), "{same:?}");
        assert_eq!(same.len(), 4);
        let other = compare(&predicate("01"), &predicate("02"), "sha256:a", "sha256:b");
        let failed: Vec<&Check> = other.iter().filter(|c| !c.ok).collect();
        assert_eq!(failed[0].check, "input");
        assert!(
            failed[0].detail.contains("eclipse-temurin:17-jre differs"),
            "{failed:?}"
        );
        assert!(failed[0].detail.contains("sha256:02"), "{failed:?}");
        assert_eq!(failed.last().unwrap().check, "rebuild");
    }
}

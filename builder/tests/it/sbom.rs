//! SBOMs end to end (issue 16) on the real fixtures: the Spark distribution assembled
//! from PyPI's pyspark sdist and the mmdebstrap Debian JVM base (`cargo xtask
//! fixtures`, `cargo xtask dist`). Documents are checked by the formats' own validators
//! (PyPI `spdx-tools` and `cyclonedx-python-lib`, installed into `target/sbom-venv`),
//! and for completeness against the image's layers, not against sparkimg's bookkeeping.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sparkimg::exit;

use crate::common;
use crate::common::{Ran, Sparkimg};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The fixtures and the entrypoint, or a recorded skip (a failure under CI).
fn inputs() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let fx = workspace().join("target/fixtures");
    let dist = fx.join("dist/spark-3.5.9-bin-hadoop3");
    let base = fx.join("base/bookworm-jre17.tar");
    let ep = workspace().join("target/dist/spark-entrypoint");
    for (p, how) in [
        (&dist, "cargo xtask fixtures"),
        (&base, "cargo xtask fixtures"),
        (&ep, "cargo xtask dist"),
    ] {
        if !p.exists() {
            common::skip(&format!("{} is missing (run `{how}`)", p.display()));
            return None;
        }
    }
    Some((dist, base, ep))
}

/// The validators' venv (pip reaches PyPI).
pub(crate) fn venv() -> Option<PathBuf> {
    common::venv(
        "sbom-venv",
        &["spdx-tools", "cyclonedx-python-lib[json-validation]"],
    )
}

const CDX_CHECK: &str = "import sys
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.schema import SchemaVersion
errors = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())
print(errors)
sys.exit(1 if errors else 0)";

fn build(dist: &Path, base: &Path, ep: &Path, out: &Path, extra: &[&str]) {
    let layout = format!("oci:{}", out.join("layout").display());
    build_to(dist, base, ep, out, &layout, extra);
}

/// A build writing `output` and the documents to `out/sboms`.
fn build_to(dist: &Path, base: &Path, ep: &Path, out: &Path, output: &str, extra: &[&str]) {
    let o = Sparkimg::new()
        .args(["build", "--no-cache", "--spark-home"])
        .arg(dist)
        .arg("--base")
        .arg(format!("rootfs:{}", base.display()))
        .arg("--entrypoint-binary")
        .arg(ep)
        .arg("--output")
        .arg(output)
        .arg("--sbom-dir")
        .arg(out.join("sboms"))
        .args(extra)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .run();
    o.ok();
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    fs::read(
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

/// The image's manifest digest and its referrers (artifactType → document bytes),
/// checking each referrer's subject and that `--sbom-dir` holds the same bytes.
fn referrers(out: &Path) -> (String, BTreeMap<String, Vec<u8>>) {
    let layout = out.join("layout");
    let index: Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    let images: Vec<&Value> = entries
        .iter()
        .filter(|e| e.get("artifactType").is_none())
        .collect();
    assert_eq!(images.len(), 1, "{index}");
    let image = images[0]["digest"].as_str().unwrap().to_string();
    let mut docs = BTreeMap::new();
    for e in entries.iter().filter(|e| e.get("artifactType").is_some()) {
        let m: Value =
            serde_json::from_slice(&blob(&layout, e["digest"].as_str().unwrap())).unwrap();
        assert_eq!(m["subject"]["digest"], image.as_str());
        assert_eq!(m["artifactType"], e["artifactType"]);
        let layer = &m["layers"][0];
        let bytes = blob(&layout, layer["digest"].as_str().unwrap());
        assert_eq!(layer["size"].as_u64(), Some(bytes.len() as u64));
        docs.insert(e["artifactType"].as_str().unwrap().to_string(), bytes);
    }
    let on_disk: BTreeSet<Vec<u8>> = fs::read_dir(out.join("sboms"))
        .unwrap()
        .map(|e| fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(on_disk, docs.values().cloned().collect::<BTreeSet<_>>());
    (image, docs)
}

/// What the image's layers hold: every jar path with its bytes' pom.properties, their
/// sha256, and the merged dpkg status (the topmost layer's).
struct Layers {
    jars: BTreeMap<String, Vec<(String, String, String)>>,
    jar_sha256: BTreeMap<String, String>,
    dpkg_status: String,
}

fn read_layers(layout: &Path, manifest: &str) -> Layers {
    let m: Value = serde_json::from_slice(&blob(layout, manifest)).unwrap();
    let mut out = Layers {
        jars: BTreeMap::new(),
        jar_sha256: BTreeMap::new(),
        dpkg_status: String::new(),
    };
    for l in m["layers"].as_array().unwrap() {
        let raw = blob(layout, l["digest"].as_str().unwrap());
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&raw[..]));
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let path = format!("/{}", e.path().unwrap().display()).replace("/./", "/");
            if path.ends_with(".jar") && e.header().entry_type().is_file() {
                let mut bytes = Vec::new();
                e.read_to_end(&mut bytes).unwrap();
                let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
                out.jar_sha256.insert(path.clone(), sha);
                out.jars.insert(path, poms(&bytes));
            } else if path == "/var/lib/dpkg/status" {
                out.dpkg_status.clear();
                e.read_to_string(&mut out.dpkg_status).unwrap();
            }
        }
    }
    out
}

/// (groupId, artifactId, version) of each pom.properties in a jar.
fn poms(jar: &[u8]) -> Vec<(String, String, String)> {
    let Ok(mut z) = zip::ZipArchive::new(std::io::Cursor::new(jar)) else {
        return Vec::new();
    };
    let names: Vec<String> = z
        .file_names()
        .filter(|n| n.ends_with("/pom.properties"))
        .map(String::from)
        .collect();
    names
        .iter()
        .map(|n| {
            let mut text = String::new();
            z.by_name(n).unwrap().read_to_string(&mut text).unwrap();
            let get = |k: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}=")))
                    .unwrap_or("")
                    .trim()
                    .to_string()
            };
            (get("groupId"), get("artifactId"), get("version"))
        })
        .collect()
}

#[test]
fn sboms_validate_list_everything_and_are_reproducible() {
    let Some((dist, base, ep)) = inputs() else {
        return;
    };
    let Some(venv) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    // jq (with libjq1 and libonig5) from deb.debian.org in an os-packages layer: the
    // SBOM must list what dpkg has after that layer, not only the base's packages.
    let args = ["--sbom", "both", "--apt-packages", "jq"];
    build(&dist, &base, &ep, &a, &args);
    let (image, docs) = referrers(&a);
    assert_eq!(docs.len(), 2, "one SPDX and one CycloneDX document");

    // The formats' own validators, on the files --sbom-dir wrote.
    for f in fs::read_dir(a.join("sboms"))
        .unwrap()
        .map(|e| e.unwrap().path())
    {
        let name = f.display().to_string();
        let o = if name.ends_with(".spdx.json") {
            Command::new(venv.join("bin/pyspdxtools"))
                .arg("-i")
                .arg(&f)
                .output()
                .unwrap()
        } else {
            Command::new(venv.join("bin/python"))
                .args(["-c", CDX_CHECK])
                .arg(&f)
                .output()
                .unwrap()
        };
        assert!(
            o.status.success(),
            "{name} is invalid: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    // Completeness, against the layers.
    check_spdx_complete(&docs["application/spdx+json"], &a.join("layout"), &image);

    // `sparkimg sbom` reads an oci-archive (here: the layout, tarred).
    let archive = tmp.path().join("a.tar");
    let mut t = tar::Builder::new(fs::File::create(&archive).unwrap());
    t.append_dir_all(".", a.join("layout")).unwrap();
    t.finish().unwrap();
    let spdx_doc = &docs["application/spdx+json"];
    let cdx_doc = &docs["application/vnd.cyclonedx+json"];
    let oci_archive = format!("oci-archive:{}", archive.display());
    assert_eq!(
        sbom_cmd(&[oci_archive]),
        (i32::from(exit::SUCCESS), spdx_doc.clone())
    );

    // Same inputs and SOURCE_DATE_EPOCH: the same documents, byte for byte (the SPDX
    // namespace and CycloneDX serial carry the image digest), here read back from a
    // docker-archive output by `sparkimg sbom`.
    fs::create_dir_all(&b).unwrap();
    let docker = format!("docker-archive:{}", b.join("image.tar").display());
    build_to(&dist, &base, &ep, &b, &docker, &args);
    assert_eq!(
        sbom_cmd(std::slice::from_ref(&docker)),
        (i32::from(exit::SUCCESS), spdx_doc.clone())
    );
    let cdx = sbom_cmd(&[docker, "--format".into(), "cyclonedx".into()]);
    assert_eq!(cdx, (i32::from(exit::SUCCESS), cdx_doc.clone()));
    let written = |d: &Path| -> BTreeSet<Vec<u8>> {
        fs::read_dir(d.join("sboms"))
            .unwrap()
            .map(|e| fs::read(e.unwrap().path()).unwrap())
            .collect()
    };
    assert_eq!(written(&a), written(&b));
}

/// SPDX document `spdx` lists everything image `image` of `layout` holds: every jar
/// (with the SHA256 of its bytes when sparkimg put it in, named by its one
/// pom.properties), every installed dpkg package (the os-packages layer's too), Spark
/// and the entrypoint's crates.
fn check_spdx_complete(spdx: &[u8], layout: &Path, image: &str) {
    let spdx: Value = serde_json::from_slice(spdx).unwrap();
    let packages = spdx["packages"].as_array().unwrap();
    let purl = |p: &Value| {
        p["externalRefs"][0]["referenceLocator"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let by_file: BTreeMap<String, String> = packages
        .iter()
        .filter(|p| p["comment"].as_str() != Some("shaded into the jar"))
        .filter_map(|p| Some((p["packageFileName"].as_str()?.to_string(), purl(p))))
        .collect();
    let layers = read_layers(layout, image);
    assert!(layers.jars.len() > 200, "{} jars", layers.jars.len());
    for path in layers.jars.keys() {
        assert!(by_file.contains_key(path), "{path} is not in the SBOM");
    }
    // Each jar sparkimg put in (the base's jars are named only) has the SHA256 of its
    // bytes in the layer (hashed while it was tarred).
    let sha256_of: BTreeMap<&str, &str> = packages
        .iter()
        .filter(|p| p["comment"].as_str() != Some("shaded into the jar"))
        .filter_map(|p| {
            let sum = p["checksums"]
                .as_array()?
                .iter()
                .find(|c| c["algorithm"] == "SHA256")?;
            Some((
                p["packageFileName"].as_str()?,
                sum["checksumValue"].as_str()?,
            ))
        })
        .collect();
    let ours: Vec<(&String, &String)> = layers
        .jar_sha256
        .iter()
        .filter(|(p, _)| p.starts_with("/opt/spark/"))
        .collect();
    assert!(ours.len() > 200, "{} jars under /opt/spark", ours.len());
    for (path, sha) in ours {
        assert_eq!(sha256_of.get(path.as_str()), Some(&sha.as_str()), "{path}");
    }
    // A jar with one pom.properties is named by it. (The fixture's own Spark jars are
    // compiled from the sdist without one: they are named from the file name.)
    let mut known = 0;
    for (path, poms) in &layers.jars {
        if let [(g, a, v)] = poms.as_slice() {
            assert_eq!(by_file[path], format!("pkg:maven/{g}/{a}@{v}"), "{path}");
            known += 1;
        }
    }
    assert!(known >= 50, "only {known} jars with one pom.properties");
    // spark-core shades Jetty: its own pom.properties names it, the others are
    // contained packages.
    let core = "/opt/spark/jars/spark-core_2.12-3.5.9.jar";
    let own = layers.jars[core]
        .iter()
        .find(|(_, a, _)| a == "spark-core_2.12")
        .expect("spark-core's pom.properties");
    assert_eq!(
        by_file[core],
        format!("pkg:maven/{}/{}@{}", own.0, own.1, own.2)
    );
    let purls: BTreeSet<String> = packages.iter().map(purl).collect();
    // (name, version) of every installed entry of the final image's dpkg status.
    let installed: Vec<(&str, &str)> = layers
        .dpkg_status
        .split("\n\n")
        .filter(|p| {
            p.lines()
                .any(|l| l.starts_with("Status:") && l.ends_with(" installed"))
        })
        .filter_map(|p| {
            let field = |k: &str| p.lines().find_map(|l| l.strip_prefix(k));
            Some((field("Package: ")?, field("Version: ")?))
        })
        .collect();
    assert!(installed.len() > 50, "{} dpkg packages", installed.len());
    for added in ["jq", "libjq1", "libonig5"] {
        assert!(
            installed.iter().any(|(n, _)| *n == added),
            "{added} is not in the final dpkg status"
        );
    }
    // purls percent-encode `+` (libstdc++6) and `:` (epochs).
    let enc = |s: &str| s.replace('+', "%2B").replace(':', "%3A");
    for (name, version) in installed {
        let prefix = format!("pkg:deb/debian/{}@{}?", enc(name), enc(version));
        assert!(
            purls.iter().any(|p| p.starts_with(&prefix)),
            "{name} {version} is not in the SBOM"
        );
    }
    assert!(
        purls.contains("pkg:generic/apache-spark@3.5.9"),
        "{purls:?}"
    );
    check_entrypoint_crates(&spdx);
}

/// The version Cargo.lock gives a package the entrypoint depends on (by name alone when
/// the lock has one version of it, else as `name version`).
fn locked_version(lock: &str, name: &str) -> String {
    let blocks: Vec<&str> = lock.split("[[package]]").collect();
    let field = |b: &str, k: &str| {
        b.lines()
            .find_map(|l| l.strip_prefix(&format!("{k} = \"")))
            .map(|v| v.trim_end_matches('"').to_string())
    };
    let ep = blocks
        .iter()
        .find(|b| field(b, "name").as_deref() == Some("spark-entrypoint"))
        .unwrap();
    let dep = ep
        .lines()
        .map(|l| l.trim().trim_matches([' ', '"', ',']))
        .find(|l| l.split(' ').next() == Some(name))
        .unwrap_or_else(|| panic!("spark-entrypoint does not depend on {name}"));
    if let Some((_, v)) = dep.split_once(' ') {
        return v.to_string();
    }
    let versions: Vec<String> = blocks
        .iter()
        .filter(|b| field(b, "name").as_deref() == Some(name))
        .filter_map(|b| field(b, "version"))
        .collect();
    assert_eq!(versions.len(), 1, "{name}: {versions:?}");
    versions[0].clone()
}

/// The entrypoint's package contains exactly its runtime crates, read back from the
/// `.dep-v0` section of the binary in the image, with Cargo.lock's versions.
fn check_entrypoint_crates(spdx: &Value) {
    let packages = spdx["packages"].as_array().unwrap();
    let ep = packages
        .iter()
        .find(|p| p["packageFileName"] == "/opt/spark-entrypoint")
        .expect("the entrypoint package");
    assert_eq!(ep["versionInfo"], "0.1.0", "the root crate's version");
    let lock = fs::read_to_string(workspace().join("Cargo.lock")).unwrap();
    let want: BTreeSet<String> = ["libc", "thiserror", "spark-version"]
        .iter()
        .map(|n| format!("pkg:cargo/{n}@{}", locked_version(&lock, n)))
        .collect();
    let contained: BTreeSet<&str> = spdx["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["spdxElementId"] == ep["SPDXID"] && r["relationshipType"] == "CONTAINS")
        .filter_map(|r| r["relatedSpdxElement"].as_str())
        .collect();
    let crates: BTreeSet<String> = packages
        .iter()
        .filter(|p| contained.contains(p["SPDXID"].as_str().unwrap_or("")))
        .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
        .map(String::from)
        .collect();
    assert_eq!(crates, want);
    let all_cargo = packages
        .iter()
        .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
        .filter(|purl| purl.starts_with("pkg:cargo/"))
        .count();
    assert_eq!(
        all_cargo, 3,
        "no build-time crate (proc-macros, build.rs's) is listed"
    );
}

fn skopeo_raw(reference: &str) -> Value {
    serde_json::from_slice(&skopeo_bytes(reference)).unwrap()
}

/// `skopeo inspect --raw`: the manifest's bytes as the registry serves them.
fn skopeo_bytes(reference: &str) -> Vec<u8> {
    common::skopeo_raw(reference, &["--tls-verify=false"])
}

/// The referrers tag of `subject` in `repo` lists both documents; the SPDX one's
/// artifact manifest refers to `subject` and carries `doc`.
fn check_referrers_tag(repo: &str, subject: &str, doc: &[u8]) {
    let index = skopeo_raw(&format!("{repo}:{}", subject.replace(':', "-")));
    let list = index["manifests"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{index}");
    let spdx = list
        .iter()
        .find(|e| e["artifactType"] == "application/spdx+json")
        .expect("an SPDX referrer");
    let m = skopeo_raw(&format!("{repo}@{}", spdx["digest"].as_str().unwrap()));
    assert_eq!(m["subject"]["digest"], subject);
    let want = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(doc))
    );
    assert_eq!(m["layers"][0]["digest"], want.as_str());
}

#[test]
fn referrers_survive_push_and_push_from_a_layout() {
    let Some((dist, base, ep)) = inputs() else {
        return;
    };
    if !common::need("skopeo") {
        return;
    }
    let Some(reg) = common::LoopbackRegistry::start() else {
        return;
    };
    let host = reg.host();
    let tmp = tempfile::tempdir().unwrap();
    let (plain, sbom) = (tmp.path().join("plain"), tmp.path().join("sbom"));
    // The image is the same with and without its SBOM attached.
    build(&dist, &base, &ep, &plain, &["--sbom", "none"]);
    let index: Value =
        serde_json::from_slice(&fs::read(plain.join("layout/index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "{index}");
    let image = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let repo = format!("{host}/sbom");
    build(
        &dist,
        &base,
        &ep,
        &sbom,
        &["-r", &repo, "--push", "--sbom", "both"],
    );
    let (image_b, docs) = referrers(&sbom);
    assert_eq!(image, image_b);
    // What the tag serves is the image built without SBOM, byte for byte.
    let pushed = skopeo_bytes(&format!("{repo}/spark:3.5.9"));
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&pushed));
    assert_eq!(format!("sha256:{digest}"), image);
    check_referrers_tag(
        &format!("{repo}/spark"),
        &image,
        &docs["application/spdx+json"],
    );

    // `sparkimg push` of the layout carries the referrers along.
    let o = Sparkimg::new()
        .arg("push")
        .arg(format!("oci:{}:3.5.9", sbom.join("layout").display()))
        .arg("--to")
        .arg(format!("{host}/copy/spark:1"))
        .run();
    o.ok();
    check_referrers_tag(
        &format!("{host}/copy/spark"),
        &image,
        &docs["application/spdx+json"],
    );

    // `sparkimg sbom` finds them in the registry and in the layout; none: exit 1.
    let spdx = &docs["application/spdx+json"];
    let cdx = &docs["application/vnd.cyclonedx+json"];
    assert_eq!(
        sbom_cmd(&[format!("{repo}/spark:3.5.9")]),
        (i32::from(exit::SUCCESS), spdx.clone())
    );
    assert_eq!(
        sbom_cmd(&[format!("{host}/copy/spark:1")]),
        (i32::from(exit::SUCCESS), spdx.clone())
    );
    let layout = format!("oci:{}:3.5.9", sbom.join("layout").display());
    assert_eq!(
        sbom_cmd(&[layout, "--format".into(), "cyclonedx".into()]),
        (i32::from(exit::SUCCESS), cdx.clone())
    );
    let none = format!("oci:{}", plain.join("layout").display());
    assert_eq!(sbom_cmd(&[none]).0, i32::from(exit::OTHER));
    let o = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci:{}", plain.join("layout").display()))
        .arg(format!("docker://{host}/plain/spark:1"))
        .output()
        .unwrap();
    o.ok();
    assert_eq!(
        sbom_cmd(&[format!("{host}/plain/spark:1")]).0,
        i32::from(exit::OTHER)
    );
}

/// `sparkimg sbom ARGS`: (exit code, stdout).
fn sbom_cmd(args: &[String]) -> (i32, Vec<u8>) {
    let o = Sparkimg::new()
        .arg("sbom")
        .args(args)
        .env(
            "SPARKIMG_CACHE_DIR",
            workspace().join("target/sbom-test-cache"),
        )
        .run();
    (o.status.code().unwrap_or(-1), o.stdout)
}

/// A spark home, a rootfs base and an entrypoint small enough for a quick build (the
/// registry behaviour, not the inventory, is under test).
fn tiny_inputs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let home = dir.join("spark");
    for (p, b) in [
        ("jars/spark-core_2.12-3.5.3.jar", &b"PK core"[..]),
        ("bin/spark-submit", b"#!/bin/sh\n"),
        ("RELEASE", b"Spark 3.5.3 built for Hadoop 3.3.4\n"),
    ] {
        let f = home.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, b).unwrap();
    }
    let mut t = tar::Builder::new(Vec::new());
    for (path, data) in [
        ("etc/passwd", &b"root:x:0:0:root:/root:/bin/sh\n"[..]),
        ("usr/lib/jvm/java-17/bin/java", b"#!/bin/sh\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        h.set_size(data.len() as u64);
        t.append_data(&mut h, path, data).unwrap();
    }
    let base = dir.join("base.tar");
    fs::write(&base, t.into_inner().unwrap()).unwrap();
    let ep = dir.join("entrypoint");
    fs::write(&ep, b"#!/bin/sh\n").unwrap();
    (home, base, ep)
}

/// A registry with the referrers API (distribution spec 1.1): it answers the referrer
/// manifests' push with `OCI-Subject`, so no referrers tag is written, and `sparkimg
/// sbom` finds the documents through `GET /v2/<name>/referrers/<digest>`. (The tag
/// schema fallback on docker-registry 2.8 is the test above.)
#[test]
fn referrers_api_replaces_the_tag_schema() {
    let reg = common::oci::ApiRegistry::start();
    let tmp = tempfile::tempdir().unwrap();
    let (home, base, ep) = tiny_inputs(tmp.path());
    let out = tmp.path().join("out");
    let repo = format!("{}/api", reg.host());
    let args = ["-r", &repo, "--tag", "1", "--push", "--sbom", "both"];
    build(&home, &base, &ep, &out, &args);
    let (image, docs) = referrers(&out);
    let refs = reg.manifest_refs("api/spark");
    assert!(refs.contains(&"1".to_string()), "{refs:?}");
    assert!(
        refs.iter().all(|r| !r.starts_with("sha256-")),
        "a referrers tag was written: {refs:?}"
    );
    // The image and both artifact manifests, by digest.
    assert_eq!(refs.iter().filter(|r| r.starts_with("sha256:")).count(), 3);

    let spdx = docs["application/spdx+json"].clone();
    assert_eq!(
        sbom_cmd(&[format!("{repo}/spark:1")]),
        (i32::from(exit::SUCCESS), spdx)
    );
    let cdx = sbom_cmd(&[
        format!("{repo}/spark:1"),
        "--format".into(),
        "cyclonedx".into(),
    ]);
    assert_eq!(
        cdx,
        (
            i32::from(exit::SUCCESS),
            docs["application/vnd.cyclonedx+json"].clone()
        )
    );
    let log = reg.log();
    let api = format!("GET /v2/api/spark/referrers/{image}");
    assert!(log.contains(&api), "{log:#?}");
    assert!(
        !log.iter().any(|l| l.contains("/manifests/sha256-")),
        "{log:#?}"
    );
}

//! `sparkimg rebase` end to end: Spark layers moved onto a new base, in layouts,
//! archives and registries, against a fresh build on that base. The inputs are the
//! build theme's generated fixtures (`crate::build::Fixture`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use sparkimg::exit;

use crate::build::{blob_json, entrypoint, tree_bytes, write, Fixture};
use crate::common;
use crate::common::{assert_exit, Ran, Sparkimg};

/// An uncompressed tar of `files` (`(path, bytes)`; bytes `None`: an empty whiteout).
fn raw_layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, p, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A base as an OCI layout: per platform (`arch`, uncompressed layers, Env), one
/// manifest; several under an index. Named `base` in index.json.
/// One platform of a test base: architecture, uncompressed layers, Env.
pub(crate) type BasePlatform<'a> = (&'a str, Vec<Vec<u8>>, Vec<&'a str>);

pub(crate) fn oci_base(dir: &Path, platforms: &[BasePlatform]) {
    use sha2::{Digest, Sha256};
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> (String, u64) {
        let hex = hex::encode(Sha256::digest(bytes));
        fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len() as u64)
    };
    let mut manifests = Vec::new();
    for (arch, layers, env) in platforms {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for raw in layers {
            diff_ids.push(format!("sha256:{}", hex::encode(Sha256::digest(raw))));
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(raw).unwrap();
            let (d, size) = put(&gz.finish().unwrap());
            descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": size}));
        }
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Env": env},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let (config, config_size) = put(&serde_json::to_vec(&config).unwrap());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
            "layers": descs,
        });
        let (m, m_size) = put(&serde_json::to_vec(&manifest).unwrap());
        manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": m, "size": m_size,
            "platform": {"os": "linux", "architecture": arch},
        }));
    }
    let mut top = manifests.remove(0);
    if !manifests.is_empty() {
        manifests.insert(0, top);
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        });
        let (index, index_size) = put(&serde_json::to_vec(&index).unwrap());
        top = serde_json::json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": index, "size": index_size});
    }
    top["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "base"});
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [top]});
    fs::write(dir.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
}

const JAVA17: &str = "usr/lib/jvm/java-17-openjdk-amd64";

/// The fixture rootfs, uncompressed: the bases' first layer.
fn rootfs_raw(f: &Fixture) -> Vec<u8> {
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(fs::File::open(f.p("base.tar.gz")).unwrap()),
        &mut raw,
    )
    .unwrap();
    raw
}

/// Bases v1 (the rootfs), v2 (one more layer: a patched passwd, an os-release, a dpkg
/// status with a patched package),
/// `nojava` (the JVM whited out) and `java11` (Java 17 replaced by 11, which Spark 3.5 runs on too), for `arches`.
pub(crate) fn rebase_bases(f: &Fixture, arches: &[&str]) {
    let root = rootfs_raw(f);
    let patch = raw_layer(&[
        (
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\npatched:x:7:7::/:/bin/false\n",
        ),
        (
            "etc/os-release",
            b"ID=debian\nVERSION_ID=\"12\"\nVERSION=\"12.9 (patched)\"\n",
        ),
        (
            "var/lib/dpkg/status",
            b"Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.15-1~deb12u1\n",
        ),
    ]);
    let wh17 = format!("usr/lib/jvm/.wh.{}", JAVA17.rsplit('/').next().unwrap());
    let nojava = raw_layer(&[(wh17.as_str(), b"")]);
    let java11 = raw_layer(&[
        (wh17.as_str(), b""),
        ("usr/lib/jvm/java-11-openjdk-amd64/bin/java", b"#!/bin/sh\n"),
    ]);
    let env = vec!["PATH=/usr/bin:/bin", "LANG=C.UTF-8"];
    for (name, layers) in [
        ("v1", vec![root.clone()]),
        ("v2", vec![root.clone(), patch]),
        ("nojava", vec![root.clone(), nojava]),
        ("java11", vec![root.clone(), java11]),
    ] {
        let platforms: Vec<_> = arches
            .iter()
            .map(|a| (*a, layers.clone(), env.clone()))
            .collect();
        oci_base(&f.p(name), &platforms);
    }
}

/// `sparkimg ARGS --cache-dir <the fixture's cache>`, from the fixture's directory.
pub(crate) fn in_fixture(f: &Fixture, args: &[&str]) -> Output {
    Sparkimg::new()
        .args(args)
        .arg("--cache-dir")
        .arg(f.p("cache"))
        .current_dir(f.dir.path())
        .run()
}

/// `outdated`'s exit code when some image is outdated (a finding, not an error).
const OUTDATED: u8 = 1;

pub(crate) const EPOCH: &str = "1700000000";

/// `build` with the flags every rebase test uses, on base `base`, into `out`.
fn build_on(f: &Fixture, base: &str, out: &str, extra: &[&str]) -> Value {
    build_into(f, base, &format!("oci:{}", f.p(out).display()), extra)
}

/// [`build_on`] into output `output` (`oci:DIR`, `oci-archive:FILE`).
fn build_into(f: &Fixture, base: &str, output: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "--json".to_string(),
        format!("--base=oci:{}", f.p(base).display()),
        format!("--output={output}"),
        "--compression=zstd".into(),
        "--timezone=Asia/Shanghai".into(),
        "-u".into(),
        "1001".into(),
    ];
    args.extend(["--name", "example.com/x/spark:t"].map(String::from));
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    f.build(&args, Some(EPOCH)).json()
}

fn rebase_args(f: &Fixture, image: &str, base: &str, out: &str) -> Vec<String> {
    vec![
        "rebase".into(),
        format!("oci:{}", f.p(image).display()),
        format!("--base=oci:{}", f.p(base).display()),
        format!("--output=oci:{}", f.p(out).display()),
        "--json".into(),
    ]
}

fn rebase(f: &Fixture, image: &str, base: &str, out: &str, extra: &[&str]) -> Output {
    let mut args = rebase_args(f, image, base, out);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    in_fixture(f, &args)
}

/// Pushes the base layout `layout` (from [`rebase_bases`]) to the registry as `tag`.
pub(crate) fn push_base_layout(f: &Fixture, layout: &str, tag: &str) {
    let dir = format!("oci:{}", f.p(layout).display());
    in_fixture(f, &["push", &dir, "--to", tag, "--json"]).json();
}

/// `build --push` as `name` on the registry base `base_tag`, with the rebase tests'
/// flags (zstd, a time zone, uid 1001) and `extra`: its JSON report.
pub(crate) fn build_push_on(f: &Fixture, base_tag: &str, name: &str, extra: &[&str]) -> Value {
    let base = format!("--base={base_tag}");
    let name = format!("--name={name}");
    let mut args = vec![
        "--json",
        "--push",
        "--compression=zstd",
        "--timezone=Asia/Shanghai",
        "-u",
        "1001",
    ];
    args.extend_from_slice(extra);
    args.extend([base.as_str(), name.as_str()]);
    f.build(&args, Some(EPOCH)).json()
}

/// Two layouts hold the same files with the same bytes; else the differing names.
pub(crate) fn same_layout(a: &Path, b: &Path) {
    let (a, b) = (tree_bytes(a), tree_bytes(b));
    let only = |x: &[(String, Vec<u8>)], y: &[(String, Vec<u8>)]| -> Vec<String> {
        x.iter()
            .filter(|f| !y.contains(f))
            .map(|(name, bytes)| match name.as_str() {
                "index.json" => format!("index.json {}", String::from_utf8_lossy(bytes)),
                _ => name.clone(),
            })
            .collect()
    };
    let (only_a, only_b) = (only(&a, &b), only(&b, &a));
    // The first file that differs, as text when it is (a config, a manifest, an SBOM).
    let first = a
        .iter()
        .zip(&b)
        .find(|(x, y)| x != y)
        .map(|((n, x), (m, y))| {
            let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap_or("(binary)".into());
            format!(
                "{n}: {}
{m}: {}",
                text(x),
                text(y)
            )
        });
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "the layouts differ: only in the first {only_a:#?}, only in the second {only_b:#?}; \
         the first difference:\n{}",
        first.unwrap_or_default()
    );
}

#[test]
fn rebase_layout_single_platform_image_reads_its_platform() {
    let f = Fixture::new();
    // Not this machine's architecture, so a host default would be wrong.
    let (this, other) = match std::env::consts::ARCH {
        "aarch64" => ("arm64", "amd64"),
        _ => ("amd64", "arm64"),
    };
    rebase_bases(&f, &[other]);
    let mut ep = fs::read(entrypoint()).unwrap();
    let machine: u16 = if other == "arm64" { 183 } else { 62 };
    ep[18..20].copy_from_slice(&machine.to_le_bytes());
    write(&f.p("other-entrypoint"), &ep, 0o755);
    let platform = format!("linux/{other}");
    let extra = [
        format!("--platform={platform}"),
        format!(
            "--platform-entrypoint={platform}={}",
            f.p("other-entrypoint").display()
        ),
    ];
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    build_on(&f, "v1", "img-v1", &extra);
    let fresh = build_on(&f, "v2", "img-v2", &extra);
    // The layout names one image manifest, not an index.
    let index: Value =
        serde_json::from_slice(&fs::read(f.p("img-v1/index.json")).unwrap()).unwrap();
    let images: Vec<&Value> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["artifactType"].is_null())
        .collect();
    assert_eq!(images.len(), 1, "{index:#}");
    assert_eq!(
        images[0]["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let host_platform = format!("linux/{this}");
    let o = rebase(&f, "img-v1", "v2", "wrong", &["--platform", &host_platform]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_exit(&o, exit::BASE_OR_DIST);
    assert!(
        err.contains(&host_platform) && err.contains(&platform),
        "{err}"
    );
    assert!(!f.p("wrong").exists(), "a refused rebase wrote its output");
    let r = rebase(&f, "img-v1", "v2", "rebased", &[]).json();
    assert_eq!(r["platforms"][0]["platform"], platform.as_str(), "{r:#}");
    assert_eq!(r["platforms"].as_array().unwrap().len(), 1, "{r:#}");
    assert_eq!(
        r["image"]["manifest_digest"], fresh["images"][0]["manifest_digest"],
        "{r:#}"
    );
}

#[test]
fn rebase_equals_a_fresh_build_on_the_new_base() {
    let f = Fixture::new();
    rebase_bases(&f, &["amd64"]);
    let built_v1 = build_on(&f, "v1", "img-v1", &[]);
    let built_v2 = build_on(&f, "v2", "img-v2", &[]);
    let fresh = built_v2["images"][0]["manifest_digest"].as_str().unwrap();
    assert_ne!(
        built_v1["images"][0]["manifest_digest"].as_str(),
        Some(fresh)
    );

    // A base on disk is recorded by its digest, not its path: without --old-base the
    // old base's layers are taken unchecked, and said so.
    let unchecked = rebase(&f, "img-v1", "v2", "unchecked", &[]).json();
    assert_eq!(unchecked["platforms"][0]["old_base_checked"], false);
    let warned = unchecked["warnings"].to_string();
    assert!(warned.contains("--old-base"), "{warned}");
    let old_base = format!("--old-base=oci:{}", f.p("v1").display());
    let r = rebase(&f, "img-v1", "v2", "rebased", &[&old_base]).json();
    assert_eq!(r["image"]["manifest_digest"], fresh, "{r:#}");
    assert_eq!(unchecked["image"], r["image"]);
    // Rebase shares the build's base scans, which `cache ls` lists (and prune removes).
    assert!(
        !f.p("cache/build/build").exists(),
        "rebase's own scan cache"
    );
    let ls = in_fixture(&f, &["cache", "ls", "--json"]).json();
    let scans = ls["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "base-scans")
        .map_or(0, |k| k["entries"].as_u64().unwrap());
    assert!(scans >= 2, "base scans of v1 and v2: {ls}");
    assert_eq!(r["image"]["reference"], "example.com/x/spark:t");
    let p = &r["platforms"][0];
    assert_eq!(p["old_base_checked"], true, "{r:#}");
    assert_eq!(p["java_home"], format!("/{JAVA17}"));
    assert!(r["warnings"].as_array().is_some_and(Vec::is_empty), "{r:#}");
    // Byte for byte: every file of the two layouts, the SPDX referrer included (made
    // again from the old one's packages of our layers and v2's OS packages).
    same_layout(&f.p("rebased"), &f.p("img-v2"));
    let spdx = |dir: &str| {
        let o = in_fixture(&f, &["sbom", &format!("oci:{}", f.p(dir).display())]);
        String::from_utf8(o.stdout).unwrap()
    };
    let (old, new) = (spdx("img-v1"), spdx("rebased"));
    assert!(!old.contains("pkg:deb/debian/openssl") && new.contains("pkg:deb/debian/openssl"));
    assert!(new.contains("\"/opt/spark-entrypoint\""), "{new}");
    // The system layer was rebuilt (v2's passwd), the Spark layers kept.
    let m = blob_json(&f.p("rebased"), fresh);
    let config = blob_json(&f.p("rebased"), m["config"]["digest"].as_str().unwrap());
    let base_digest = p["base_digest"].as_str().unwrap();
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.base.name"],
        format!("oci@{base_digest}")
    );
    let kept = p["kept_layers"].as_array().unwrap();
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2 + kept.len() + 1);
    for (l, k) in layers[2..].iter().zip(kept) {
        assert_eq!(&l["digest"], k);
    }

    // Layouts: a base on disk cannot be looked up again (no path is recorded).
    let img = format!("oci:{}", f.p("rebased").display());
    let o = in_fixture(&f, &["outdated", &img]);
    assert_exit(&o, exit::SUCCESS);
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains(" unknown (a base on disk"), "{said}");

    // And back: the rebased image onto v1 is the image built on v1.
    let old_base = format!("--old-base=oci:{}", f.p("v2").display());
    let back = rebase(&f, "rebased", "v1", "back", &[&old_base]).json();
    assert_eq!(
        back["image"]["manifest_digest"],
        built_v1["images"][0]["manifest_digest"]
    );
    same_layout(&f.p("back"), &f.p("img-v1"));
}

/// An `oci-archive:` image is rebased as its `oci:` layout is: its name and platforms
/// from the archive's index, its SBOM referrers read back and made again for the new
/// base, and the result is a fresh build on the new base, byte for byte.
#[test]
fn rebase_oci_archive_keeps_its_sboms() {
    let f = Fixture::new();
    rebase_bases(&f, &["amd64"]);
    let archive = format!("oci-archive:{}", f.p("img-v1.tar").display());
    build_into(&f, "v1", &archive, &["--sbom=both"]);
    let fresh = build_on(&f, "v2", "img-v2", &["--sbom=both"]);
    let o = in_fixture(
        &f,
        &[
            "rebase",
            &archive,
            &format!("--base=oci:{}", f.p("v2").display()),
            &format!("--old-base=oci:{}", f.p("v1").display()),
            &format!("--output=oci:{}", f.p("rebased").display()),
            "--json",
        ],
    );
    let r = o.json();
    assert_eq!(
        r["image"]["manifest_digest"], fresh["images"][0]["manifest_digest"],
        "{r:#}"
    );
    assert!(r["warnings"].as_array().is_some_and(Vec::is_empty), "{r:#}");
    // Both referrers, made for v2: every file equals the fresh build's.
    same_layout(&f.p("rebased"), &f.p("img-v2"));
    for format in ["spdx", "cyclonedx"] {
        let o = in_fixture(
            &f,
            &[
                "sbom",
                &format!("oci:{}", f.p("rebased").display()),
                "--format",
                format,
            ],
        );
        o.ok();
        let doc = String::from_utf8(o.stdout).unwrap();
        assert!(doc.contains("pkg:deb/debian/openssl"), "{format}: {doc}");
    }
}

#[test]
fn rebase_refusals() {
    let f = Fixture::new();
    rebase_bases(&f, &["amd64"]);
    build_on(&f, "v1", "img-v1", &[]);
    let refused = |o: Output, needles: &[&str]| {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_exit(&o, exit::BASE_OR_DIST);
        for n in needles {
            assert!(err.contains(n), "{n}: {err}");
        }
    };
    // Not built on the given old base: the differing layer is named.
    let old = format!("--old-base=oci:{}", f.p("nojava").display());
    refused(
        rebase(&f, "img-v1", "v2", "out-a", &[&old]),
        &["not built on the old base", "layer 2 of the image"],
    );
    // A new base without Java.
    refused(rebase(&f, "img-v1", "nojava", "out-b", &[]), &["no Java"]);
    // A Java major change without the flag; with it the config follows.
    refused(
        rebase(&f, "img-v1", "java11", "out-c", &[]),
        &["Java 11", "Java 17", "--allow-java-change"],
    );
    for out in ["out-a", "out-b", "out-c"] {
        assert!(!f.p(out).exists(), "{out} written by a refused rebase");
    }
    let r = rebase(&f, "img-v1", "java11", "out-d", &["--allow-java-change"]).json();
    assert_eq!(
        r["platforms"][0]["java_home"],
        "/usr/lib/jvm/java-11-openjdk-amd64"
    );
    let built = build_on(&f, "java11", "img-11", &[]);
    assert_eq!(
        r["image"]["manifest_digest"],
        built["images"][0]["manifest_digest"]
    );
}

#[test]
fn rebase_multi_platform_index_per_platform() {
    let f = Fixture::new();
    rebase_bases(&f, &["amd64", "arm64"]);
    let mut arm = fs::read(entrypoint()).unwrap();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes());
    write(&f.p("arm64-entrypoint"), &arm, 0o755);
    let arm_arg = format!(
        "--platform-entrypoint=linux/arm64={}",
        f.p("arm64-entrypoint").display()
    );
    let multi = ["--platform", "linux/amd64,linux/arm64", arm_arg.as_str()];
    // Both SBOM formats, per platform: all made again for v2.
    build_on(&f, "v1", "img-v1", &[&multi[..], &["--sbom=both"]].concat());
    let fresh = build_on(&f, "v2", "img-v2", &[&multi[..], &["--sbom=both"]].concat());
    let r = rebase(&f, "img-v1", "v2", "rebased", &[]).json();
    assert_eq!(
        r["image"]["manifest_digest"],
        fresh["images"][0]["manifest_digest"]
    );
    assert_eq!(r["platforms"].as_array().unwrap().len(), 2);
    // The arm64 system layer keeps the arm64 entrypoint.
    same_layout(&f.p("rebased"), &f.p("img-v2"));
    // One platform only.
    let one = rebase(
        &f,
        "img-v1",
        "v2",
        "amd64-only",
        &["--platform", "linux/amd64"],
    )
    .json();
    assert_eq!(
        one["image"]["manifest_digest"],
        fresh["images"][0]["platforms"][0]["manifest_digest"]
    );
}

/// Registry to registry: the Spark layers are never downloaded (the registry's access
/// log shows no GET of one), only config, manifest and the system layer go up, and the
/// result is the digest of a fresh `build --push` on the moved base tag.
#[test]
fn rebase_registry_to_registry_downloads_no_spark_layer() {
    let Some(reg) = common::LoopbackRegistry::start() else {
        return;
    };
    let host = reg.host();
    let f = Fixture::new();
    rebase_bases(&f, &["amd64"]);
    let base_tag = format!("{host}/base:17");
    let push_base = |name: &str| push_base_layout(&f, name, &base_tag);
    let build_to = |name: &str, out: &str, push: &str| -> Value {
        let base = format!("--base={base_tag}");
        let name = format!("--name={host}/x/spark:{name}");
        let out = format!("--output=oci:{}", f.p(out).display());
        let args = [
            "--json",
            push,
            "--compression=zstd",
            "--timezone=Asia/Shanghai",
            "-u",
            "1001",
            &base,
            &name,
            &out,
        ];
        let o = f.build(&args, Some(EPOCH));
        o.json()
    };
    let build_push = |name: &str, out: &str| build_to(name, out, "--push");
    let image = format!("{host}/x/spark:t");
    let outdated = |expect: u8| -> Value {
        let o = in_fixture(&f, &["outdated", &image, "--json"]);
        assert_exit(&o, expect);
        o.stdout_json()
    };
    push_base("v1");
    let old = build_push("t", "img-v1");
    let v = outdated(exit::SUCCESS);
    assert_eq!(
        v["images"][0]["platforms"][0]["base"],
        base_tag.as_str(),
        "{v:#}"
    );
    // The base tag moves to v2; a fresh build on it is the reference.
    push_base("v2");
    let v = outdated(OUTDATED);
    let p = &v["images"][0]["platforms"][0];
    assert_ne!(p["recorded_digest"], p["current_digest"], "{v:#}");
    let before = reg.requests().len();
    let base = format!("--base={base_tag}");
    let r = in_fixture(&f, &["rebase", &image, &base, "--push", "--json"]).json();
    let after = reg.requests()[before..].to_vec();
    // Read before the fresh build below adds its own referrer (named :fresh) to the
    // same subject.
    let sbom_of = |image: &str| {
        let o = in_fixture(&f, &["sbom", image]);
        o.ok();
        String::from_utf8(o.stdout).unwrap()
    };
    let pushed_sbom = sbom_of(&image);
    // After the rebase, so that nothing of it was in the registry before.
    let fresh = build_push("fresh", "img-v2");
    let fresh_digest = fresh["images"][0]["manifest_digest"].as_str().unwrap();
    assert_ne!(
        old["images"][0]["manifest_digest"].as_str(),
        Some(fresh_digest)
    );
    assert_eq!(r["image"]["manifest_digest"], fresh_digest, "{r:#}");
    assert_eq!(r["pushed"][0]["digest"], fresh_digest);
    let kept: Vec<String> = r["platforms"][0]["kept_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    assert!(kept.len() >= 4, "{r:#}");
    // The tag moved, but the old base was checked by the digest the image records.
    assert_eq!(r["platforms"][0]["old_base_checked"], true, "{r:#}");
    let fetched: Vec<&(String, String, u16)> = after
        .iter()
        .filter(|(m, u, _)| m == "GET" && kept.iter().any(|k| u.ends_with(k.as_str())))
        .collect();
    assert!(fetched.is_empty(), "Spark layers downloaded: {fetched:?}");
    // Uploaded: the system layer and the config; v2's new layer mounted from the base's
    // repository; the Spark layers and v1's layer were there.
    let pushed = &r["pushed"][0];
    assert_eq!(pushed["blobs_uploaded"], 2, "{r:#}");
    assert_eq!(pushed["blobs_mounted"], 1, "{r:#}");
    assert_eq!(pushed["blobs_present"], kept.len() + 1, "{r:#}");
    outdated(exit::SUCCESS);
    // The SPDX referrer was read from the registry and made again for v2: it is what a
    // fresh build of the same name on v2 attaches.
    build_to("t", "img-v2-t", "--sbom=spdx");
    assert_eq!(
        pushed_sbom,
        sbom_of(&format!("oci:{}", f.p("img-v2-t").display()))
    );
    assert!(pushed_sbom.contains("pkg:deb/debian/openssl"));
    // Another repository of the same registry: the Spark layers are mounted.
    let to = format!("--to={host}/y/spark:t");
    let before = reg.requests().len();
    let r = in_fixture(&f, &["rebase", &image, &base, &to, "--push", "--json"]).json();
    assert_eq!(r["image"]["manifest_digest"], fresh_digest);
    assert!(
        r["pushed"][0]["blobs_mounted"].as_u64().unwrap() >= kept.len() as u64,
        "{r:#}"
    );
    let after = reg.requests()[before..].to_vec();
    assert!(
        !after
            .iter()
            .any(|(m, u, _)| m == "GET" && kept.iter().any(|k| u.ends_with(k.as_str()))),
        "{after:?}"
    );
}

/// A multi-platform image on a registry is rebased per platform by default (the
/// platforms of its index, not this machine's alone), each platform's SBOM made again,
/// and the result is the index a fresh multi-platform `build --push` gives.
#[test]
fn rebase_registry_multi_platform_rebases_every_platform() {
    let Some(reg) = common::LoopbackRegistry::start() else {
        return;
    };
    let host = reg.host();
    let f = Fixture::new();
    rebase_bases(&f, &["amd64", "arm64"]);
    let mut arm = fs::read(entrypoint()).unwrap();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes());
    write(&f.p("arm64-entrypoint"), &arm, 0o755);
    let arm_arg = format!(
        "--platform-entrypoint=linux/arm64={}",
        f.p("arm64-entrypoint").display()
    );
    let base_tag = format!("{host}/base:17");
    let push_base = |name: &str| push_base_layout(&f, name, &base_tag);
    let build_push = |name: &str| {
        let name = format!("{host}/x/spark:{name}");
        let platforms = ["--platform=linux/amd64,linux/arm64", &arm_arg];
        build_push_on(&f, &base_tag, &name, &platforms)
    };
    push_base("v1");
    build_push("t");
    push_base("v2");
    let image = format!("{host}/x/spark:t");
    // `outdated` checks every platform of the index, not only this machine's.
    let outdated = |code: u8| -> Vec<(String, bool)> {
        let o = in_fixture(&f, &["outdated", &image, "--json"]);
        assert_exit(&o, code);
        let v = o.stdout_json();
        let platforms = v["images"][0]["platforms"].as_array().unwrap().iter();
        platforms
            .map(|p| {
                (
                    p["platform"].as_str().unwrap().into(),
                    p["outdated"] == true,
                )
            })
            .collect()
    };
    let both = |outdated: bool| {
        vec![
            ("linux/amd64".to_string(), outdated),
            ("linux/arm64".to_string(), outdated),
        ]
    };
    assert_eq!(outdated(OUTDATED), both(true));
    let base = format!("--base={base_tag}");
    let before = reg.requests().len();
    let r = in_fixture(&f, &["rebase", &image, &base, "--push", "--json"]).json();
    let after = reg.requests()[before..].to_vec();
    let platforms: Vec<&str> = r["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{r:#}");
    let kept: Vec<&str> = r["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["kept_layers"].as_array().unwrap())
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(
        !after
            .iter()
            .any(|(m, u, _)| m == "GET" && kept.iter().any(|k| u.ends_with(k))),
        "Spark layers downloaded: {after:?}"
    );
    assert_eq!(outdated(exit::SUCCESS), both(false));
    // Each platform's SPDX names v2's packages (read before the fresh build adds its
    // own referrers to the same subjects).
    for p in ["linux/amd64", "linux/arm64"] {
        let o = in_fixture(&f, &["sbom", &image, "--platform", p]);
        o.ok();
        let doc = String::from_utf8(o.stdout).unwrap();
        assert!(
            doc.contains("pkg:deb/debian/openssl") && doc.contains(p),
            "{doc}"
        );
    }
    let fresh = build_push("fresh");
    assert_eq!(
        r["image"]["manifest_digest"], fresh["images"][0]["manifest_digest"],
        "{r:#}"
    );
}

/// A single-platform image on a registry (a manifest, no index) is rebased for the
/// platform its config declares, not this machine's; a `--platform` it is not is
/// refused, naming both.
#[test]
fn rebase_registry_single_platform_image_reads_its_platform() {
    let Some(reg) = common::LoopbackRegistry::start() else {
        return;
    };
    let host = reg.host();
    let f = Fixture::new();
    // Not this machine's architecture, so a host default would be wrong.
    let (this, other) = match std::env::consts::ARCH {
        "aarch64" => ("arm64", "amd64"),
        _ => ("amd64", "arm64"),
    };
    rebase_bases(&f, &[other]);
    let mut ep = fs::read(entrypoint()).unwrap();
    let machine: u16 = if other == "arm64" { 183 } else { 62 };
    ep[18..20].copy_from_slice(&machine.to_le_bytes());
    write(&f.p("other-entrypoint"), &ep, 0o755);
    let platform = format!("linux/{other}");
    let ep_arg = format!(
        "--platform-entrypoint={platform}={}",
        f.p("other-entrypoint").display()
    );
    let base_tag = format!("{host}/base:17");
    let push_base = |name: &str| push_base_layout(&f, name, &base_tag);
    let build_push = |name: &str| {
        let name = format!("{host}/x/spark:{name}");
        build_push_on(
            &f,
            &base_tag,
            &name,
            &[&format!("--platform={platform}"), &ep_arg],
        )
    };
    push_base("v1");
    build_push("t");
    push_base("v2");
    let image = format!("{host}/x/spark:t");
    // A manifest, not an index, is what the tag names.
    let top: Value =
        serde_json::from_slice(&common::skopeo_raw(&image, &["--tls-verify=false"])).unwrap();
    assert!(top["config"].is_object(), "{top:#}");
    let base = format!("--base={base_tag}");
    // Refused before anything is pushed: --platform names another platform.
    let host_platform = format!("linux/{this}");
    let o = in_fixture(
        &f,
        &[
            "rebase",
            &image,
            &base,
            "--push",
            "--platform",
            &host_platform,
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_exit(&o, exit::BASE_OR_DIST);
    assert!(
        err.contains(&host_platform) && err.contains(&platform) && err.contains(&image),
        "{err}"
    );
    let r = in_fixture(&f, &["rebase", &image, &base, "--push", "--json"]).json();
    assert_eq!(r["platforms"][0]["platform"], platform.as_str(), "{r:#}");
    assert_eq!(r["platforms"].as_array().unwrap().len(), 1, "{r:#}");
    let fresh = build_push("fresh");
    assert_eq!(
        r["image"]["manifest_digest"], fresh["images"][0]["manifest_digest"],
        "{r:#}"
    );
    // The matching --platform is accepted (the image is current now: same digest).
    let r = in_fixture(
        &f,
        &[
            "rebase",
            &image,
            &base,
            "--push",
            "--json",
            "--platform",
            &platform,
        ],
    )
    .json();
    assert_eq!(
        r["image"]["manifest_digest"],
        fresh["images"][0]["manifest_digest"]
    );
}

/// `--to` on another registry: the kept Spark layers are streamed from the image's
/// registry into the target's (never stored on this machine), the new base's blobs
/// copied there beforehand (see the next test), and the result is the image a fresh
/// build gives.
#[test]
fn rebase_to_another_registry_streams_the_spark_layers() {
    let (Some(a), Some(b)) = (
        common::LoopbackRegistry::start(),
        common::LoopbackRegistry::start(),
    ) else {
        return;
    };
    let (ha, hb) = (a.host(), b.host());
    let f = Fixture::new();
    rebase_bases(&f, &["amd64"]);
    let base_tag = format!("{ha}/base:17");
    let push_base = |name: &str| push_base_layout(&f, name, &base_tag);
    let build_push = |name: &str| build_push_on(&f, &base_tag, name, &[]);
    push_base("v1");
    let image = format!("{ha}/x/spark:t");
    build_push(&image);
    push_base("v2");
    let base = format!("--base={base_tag}");
    let target = format!("{hb}/y/spark:t");
    let to = format!("--to={target}");
    let r = in_fixture(&f, &["rebase", &image, &base, &to, "--push", "--json"]).json();
    let kept: Vec<String> = r["platforms"][0]["kept_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    assert!(kept.len() >= 4, "{r:#}");
    // Every Spark layer went up to b, read from a once; none is in the pull cache (the
    // build's layer cache, in the same directory, holds them from the build on v1).
    let pushed = &r["pushed"][0];
    assert_eq!(pushed["reference"], target.as_str(), "{r:#}");
    for k in &kept {
        let gets = a
            .requests()
            .iter()
            .filter(|(m, u, _)| m == "GET" && u.ends_with(k.as_str()))
            .count();
        assert_eq!(gets, 1, "{k}");
        let hex = k.trim_start_matches("sha256:");
        let stored = files_named(&f.p("cache").join("registry"), hex);
        assert!(stored.is_empty(), "stored on disk: {stored:?}");
    }
    assert!(
        pushed["blobs_uploaded"].as_u64().unwrap() >= kept.len() as u64 + 2,
        "{r:#}"
    );
    // Its SBOM went along (read before the fresh build adds one to the same subject).
    let o = in_fixture(&f, &["sbom", &target]);
    o.ok();
    assert!(String::from_utf8_lossy(&o.stdout).contains(&target));
    // The same image as a fresh build on v2, pushed to b directly.
    let fresh = build_push(&format!("{hb}/y/spark:fresh"));
    assert_eq!(
        r["image"]["manifest_digest"],
        fresh["images"][0]["manifest_digest"]
    );
}

/// A new base on another registry than the result: each of its layers is read from the
/// base's registry once, and that one GET is the copy into the target and the scan of
/// its files (system layer, `JAVA_HOME`, SBOM) at once: nothing of it is stored in the
/// pull cache. The result is still a fresh `build --push` on the new base.
#[test]
fn rebase_copies_a_base_from_another_registry_with_one_get() {
    let (Some(a), Some(b)) = (
        common::LoopbackRegistry::start(),
        common::LoopbackRegistry::start(),
    ) else {
        return;
    };
    let (ha, hb) = (a.host(), b.host());
    let f = Fixture::new();
    rebase_bases(&f, &["amd64"]);
    let base_tag = format!("{ha}/base:17");
    let push_base = |name: &str| push_base_layout(&f, name, &base_tag);
    let build_push = |name: &str| build_push_on(&f, &base_tag, name, &[]);
    // The base on a, the image on b.
    push_base("v1");
    let image = format!("{hb}/x/spark:t");
    build_push(&image);
    push_base("v2");
    // v2's layers: the rootfs v1 has too, and the patch layer no build has seen.
    let index = serde_json::from_slice::<Value>(&fs::read(f.p("v2/index.json")).unwrap()).unwrap();
    let m = blob_json(
        &f.p("v2"),
        index["manifests"][0]["digest"].as_str().unwrap(),
    );
    let layers: Vec<String> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(layers.len(), 2);
    let patch = layers[1].trim_start_matches("sha256:").to_string();
    let (a0, b0) = (a.requests().len(), b.requests().len());
    let target = format!("{hb}/y/spark:t");
    let r = in_fixture(
        &f,
        &[
            "rebase",
            &image,
            &format!("--base={base_tag}"),
            &format!("--to={target}"),
            "--push",
            "--json",
        ],
    )
    .json();
    let (on_a, on_b) = (a.requests()[a0..].to_vec(), b.requests()[b0..].to_vec());
    for l in &layers {
        // Read from a once, uploaded into b's target repository (not there before).
        let gets = on_a
            .iter()
            .filter(|(m, u, _)| m == "GET" && u.ends_with(&format!("/blobs/{l}")))
            .count();
        assert_eq!(gets, 1, "{l}: {on_a:?}");
        let put = on_b.iter().any(|(m, u, s)| {
            m == "PUT"
                && u.starts_with("/v2/y/spark/blobs/uploads/")
                && u.contains(&l.replace(':', "%3A"))
                && *s == 201
        });
        assert!(put, "{l} not uploaded into y/spark: {on_b:?}");
    }
    // Not in the pull cache: only the build on v1 put blobs there, and v2's patch layer
    // is none of them. Its scan is kept (the next rebase onto it reads no byte of it).
    let stored = files_named(&f.p("cache").join("registry"), &patch);
    assert!(stored.is_empty(), "stored on disk: {stored:?}");
    let scan = f.p("cache/build/base-scan").join(format!("sha256-{patch}"));
    assert!(scan.is_file(), "no scan of the patch layer");
    assert_eq!(r["pushed"][0]["reference"], target.as_str(), "{r:#}");
    // The same image as a fresh build on v2 pushed to b.
    let fresh = build_push(&format!("{hb}/y/spark:fresh"));
    assert_eq!(
        r["image"]["manifest_digest"], fresh["images"][0]["manifest_digest"],
        "{r:#}"
    );
    // Again: the layers are in b and their scans here, so a serves no byte of them.
    // Then without the scans: each is read once for its files, none uploaded again.
    for (scans, gets) in [(true, 0), (false, 1)] {
        if !scans {
            fs::remove_dir_all(f.p("cache/build/base-scan")).unwrap();
        }
        let (a1, b1) = (a.requests().len(), b.requests().len());
        let again = in_fixture(
            &f,
            &[
                "rebase",
                &image,
                &format!("--base={base_tag}"),
                &format!("--to={target}"),
                "--push",
                "--json",
            ],
        )
        .json();
        assert_eq!(
            again["image"]["manifest_digest"],
            r["image"]["manifest_digest"]
        );
        let (on_a, on_b) = (a.requests()[a1..].to_vec(), b.requests()[b1..].to_vec());
        for l in &layers {
            let n = on_a
                .iter()
                .filter(|(m, u, _)| m == "GET" && u.ends_with(&format!("/blobs/{l}")))
                .count();
            assert_eq!(n, gets, "{l}: {on_a:?}");
        }
        let uploaded: Vec<_> = on_b
            .iter()
            .filter(|(m, u, _)| {
                m == "PUT" && layers.iter().any(|l| u.contains(&l.replace(':', "%3A")))
            })
            .collect();
        assert!(uploaded.is_empty(), "uploaded again: {uploaded:?}");
    }
}

/// Files under `dir` whose name starts with `prefix`.
fn files_named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_named(&p, prefix));
        } else if e.file_name().to_string_lossy().starts_with(prefix) {
            out.push(p);
        }
    }
    out
}

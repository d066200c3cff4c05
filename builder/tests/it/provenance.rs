//! SLSA provenance (`--provenance`) and `sparkimg verify`: the DSSE envelope and its
//! in-toto statement checked by PyPI's `securesystemslib` given our public key
//! (`dsse_verify.py`), the predicate's SLSA v1 required fields, and `verify`'s verdicts
//! on a signed and attested image, an unsigned one, another key's, one changed after
//! signing, and a rebase (re-attested for its new digest). The images are the build
//! theme's small fixture on the rebase theme's layout bases (which have a digest).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use sparkimg::exit;

use crate::build::{blob_json, Fixture};
use crate::common::{self, assert_exit, Ran, Sparkimg};
use crate::rebase::{
    build_push_on, in_fixture, push_base_layout, rebase_bases, same_layout, EPOCH,
};
use crate::sign::keygen;
use common::layout_index as index;

const ATT_TYPE: &str = "application/vnd.dev.cosign.artifact.att.v1+json";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    }
}

/// A signed and attested build of the fixture on layout base `v1`, into `out`.
fn attested(f: &Fixture, key: &Path, out: &str) -> Value {
    f.build(
        &[
            "--json",
            "--name=example.com/x/spark:1",
            &format!("--base=oci:{}", f.p("v1").display()),
            &format!("--platform=linux/{}", arch()),
            &format!("--output=oci:{}", f.p(out).display()),
            &format!("--sign-key={}", key.display()),
            "--provenance",
        ],
        Some(EPOCH),
    )
    .json()
}

/// The envelope under the layout's `.att` tag of `digest`, as a file.
fn envelope(layout: &Path, digest: &str) -> PathBuf {
    let tag = format!("sha256-{}.att", &digest[7..]);
    let idx = index(layout);
    let e = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["annotations"][REF_NAME] == tag.as_str())
        .unwrap_or_else(|| panic!("no {tag} in {idx:#}"));
    assert_eq!(e["artifactType"], ATT_TYPE);
    let att = blob_json(layout, e["digest"].as_str().unwrap());
    let layer = &att["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.dsse.envelope.v1+json");
    assert_eq!(
        layer["annotations"]["predicateType"],
        "https://slsa.dev/provenance/v1"
    );
    layout
        .join("blobs/sha256")
        .join(&layer["digest"].as_str().unwrap()[7..])
}

/// The oracle's venv: PyPI's `securesystemslib` (with its crypto extra) and `in-toto`;
/// its python.
fn venv() -> Option<PathBuf> {
    common::venv("prov-venv", &["securesystemslib[crypto]", "in-toto"])
        .map(|d| d.join("bin/python"))
}

/// The statement, when `dsse_verify.py` verifies `envelope` with `public`.
fn oracle(python: &Path, public: &Path, envelope: &Path) -> Result<Value, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/dsse_verify.py");
    let o = Command::new(python)
        .arg(script)
        .arg(public)
        .arg(envelope)
        .output()
        .unwrap();
    match o.status.success() {
        true => Ok(serde_json::from_slice(&o.stdout).unwrap()),
        false => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
    }
}

/// SLSA v1's required fields, and what sparkimg promises to put in them.
fn check_predicate(statement: &Value, digest: &str, f: &Fixture) {
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(statement["subject"][0]["digest"]["sha256"], &digest[7..]);
    assert_eq!(statement["subject"][0]["name"], "example.com/x/spark:1");
    let p = &statement["predicate"];
    let bd = &p["buildDefinition"];
    assert!(
        bd["buildType"].as_str().unwrap().starts_with("https://"),
        "{p:#}"
    );
    let ext = &bd["externalParameters"];
    assert!(ext.is_object(), "{p:#}");
    assert_eq!(
        ext["sourceDateEpoch"],
        EPOCH.parse::<u64>().unwrap(),
        "{p:#}"
    );
    assert_eq!(
        ext["platforms"],
        json!([format!("linux/{}", arch())]),
        "{p:#}"
    );
    assert!(p["runDetails"]["builder"]["id"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    let deps = bd["resolvedDependencies"].as_array().unwrap();
    assert!(!deps.is_empty(), "the base is named: {p:#}");
    for d in deps {
        let digests = d["digest"].as_object().unwrap();
        assert!(
            !digests.is_empty() && (d["name"].is_string() || d["uri"].is_string()),
            "{d}"
        );
    }
    // Content only: no path of this machine, no clock.
    let text = statement.to_string();
    let tmp = f.dir.path().display().to_string();
    assert!(
        !text.contains(&tmp),
        "a host path in the provenance: {text}"
    );
}

#[test]
fn provenance_verifies_with_securesystemslib_and_is_deterministic() {
    let Some(python) = venv() else { return };
    let f = Fixture::new();
    rebase_bases(&f, &[arch()]);
    let (key, public) = keygen(&f.p("a"), None);
    let (_, other) = keygen(&f.p("b"), None);
    let r = attested(&f, &key, "l1");
    let digest = r["images"][0]["manifest_digest"].as_str().unwrap();
    assert!(r["signatures"][0]["attestation"].is_string(), "{r:#}");
    let env = envelope(&f.p("l1"), digest);
    let statement = oracle(&python, &public, &env).unwrap();
    check_predicate(&statement, digest, &f);
    let err = oracle(&python, &other, &env).unwrap_err();
    assert!(!err.is_empty());
    // The OCI 1.1 referrer lists the same envelope, its subject the image.
    let idx = index(&f.p("l1"));
    let referrer = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["artifactType"] == ATT_TYPE && !e["annotations"][REF_NAME].is_string())
        .map(|e| blob_json(&f.p("l1"), e["digest"].as_str().unwrap()))
        .find(|m| m["subject"]["digest"] == digest)
        .expect("an attestation referrer");
    assert_eq!(
        referrer["layers"][0]["digest"].as_str().unwrap(),
        format!("sha256:{}", env.file_name().unwrap().to_string_lossy())
    );
    // Same inputs, same bytes (RFC 6979 signatures included).
    attested(&f, &key, "l2");
    same_layout(&f.p("l1"), &f.p("l2"));
}

fn verify(image: &str, public: &Path, extra: &[&str]) -> Output {
    Sparkimg::new()
        .args(["verify", image, "--key"])
        .arg(public)
        .args(extra)
        .run()
}

fn fails(o: &Output, code: u8, says: &str) {
    assert_exit(o, code);
    let all = format!("{}{}", o.stdout_text(), o.stderr_text());
    assert!(all.contains(says), "want {says:?} in:\n{all}");
    assert!(o.stderr_text().contains("hint:"), "{all}");
}

#[test]
fn verify_passes_an_attested_image_and_names_what_failed_on_the_rest() {
    let f = Fixture::new();
    rebase_bases(&f, &[arch()]);
    let (key, public) = keygen(&f.p("a"), None);
    let (_, other) = keygen(&f.p("b"), None);
    attested(&f, &key, "l1");
    let src = format!("oci:{}", f.p("l1").display());
    let ok = verify(&src, &public, &["--json"]);
    assert_exit(&ok, exit::SUCCESS);
    let v = ok.json();
    assert_eq!(v["verified"], true, "{v:#}");
    let kinds: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["signature", "provenance", "sbom"], "{v:#}");
    fails(
        &verify(&src, &other, &[]),
        exit::VERIFICATION,
        "none by this key",
    );
    // Unsigned.
    let plain = format!("--output=oci:{}", f.p("plain").display());
    f.build(&[&plain], Some(EPOCH)).ok();
    let o = verify(&format!("oci:{}", f.p("plain").display()), &public, &[]);
    fails(&o, exit::VERIFICATION, "no signature");
    assert!(
        o.stderr_text().contains("signature, provenance failed"),
        "{}",
        o.stderr_text()
    );
    // The rebuild sets its own output and key: refused among the sources.
    fails(
        &verify(&src, &public, &["--rebuild", "--", "--push"]),
        exit::USAGE,
        "--push among the rebuild's flags",
    );
    // --provenance needs a key to sign with.
    let o = f.build(&["--provenance"], Some(EPOCH));
    assert_exit(&o, exit::USAGE);
    assert!(
        o.stderr_text().contains("--sign-key"),
        "{}",
        o.stderr_text()
    );
    push_refusals(&f, &key);
    tampered(&f, &public);
}

/// `push --provenance` takes a layout's attestations along and makes none: refused
/// (before any connection) for a layout without them, and without a key.
fn push_refusals(f: &Fixture, key: &Path) {
    let push = |src: &str, extra: &[&str]| {
        Sparkimg::new()
            .args(["push", src, "--to", "127.0.0.1:9/x/spark:1", "--provenance"])
            .args(extra)
            .run()
    };
    let plain = format!("oci:{}", f.p("plain").display());
    let sign = format!("--sign-key={}", key.display());
    let o = push(&plain, &[&sign]);
    assert_exit(&o, exit::USAGE);
    assert!(
        o.stderr_text().contains("holds no provenance"),
        "{}",
        o.stderr_text()
    );
    assert_exit(&push(&plain, &[]), exit::USAGE);
}

/// The manifest changed after signing (an annotation added): refused as unsigned, and
/// with the old signature and attestation moved to the new digest's tags, as naming
/// another manifest.
fn tampered(f: &Fixture, public: &Path) {
    let layout = f.p("l1");
    let (old, new) = common::tamper_image_manifest(&layout);
    let src = format!("oci:{}", layout.display());
    fails(
        &verify(&src, public, &[]),
        exit::VERIFICATION,
        "no signature",
    );
    common::move_cosign_tags(&layout, &old, &new, &["sig", "att"]);
    let o = verify(&src, public, &[]);
    fails(&o, exit::VERIFICATION, "changed after signing");
    assert!(
        o.stdout_text().contains("changed after it was attested"),
        "{}",
        o.stdout_text()
    );
}

#[test]
fn a_rebase_is_attested_anew_and_verify_reads_the_registry() {
    let Some(reg) = common::LoopbackRegistry::start() else {
        return;
    };
    let host = reg.host();
    let f = Fixture::new();
    let (a_key, a_pub) = keygen(&f.p("a"), None);
    let (b_key, b_pub) = keygen(&f.p("b"), None);
    rebase_bases(&f, &[arch()]);
    let base_tag = format!("{host}/base:17");
    push_base_layout(&f, "v1", &base_tag);
    let image = format!("{host}/x/spark:t");
    let sign_a = format!("--sign-key={}", a_key.display());
    let platform = format!("--platform=linux/{}", arch());
    let built = build_push_on(&f, &base_tag, &image, &[&platform, &sign_a, "--provenance"]);
    let old = built["images"][0]["manifest_digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_exit(&verify(&image, &a_pub, &[]), exit::SUCCESS);
    push_base_layout(&f, "v2", &base_tag);
    let sign_b = format!("--sign-key={}", b_key.display());
    let base = format!("--base={base_tag}");
    let r = in_fixture(
        &f,
        &[
            "rebase",
            &image,
            &base,
            "--push",
            "--json",
            &sign_b,
            "--provenance",
        ],
    )
    .json();
    let new = r["image"]["manifest_digest"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert!(r["signatures"][0]["attestation"].is_string(), "{r:#}");
    let ok = verify(&image, &b_pub, &["--json"]);
    assert_exit(&ok, exit::SUCCESS);
    assert_eq!(ok.json()["digest"], new.as_str());
    // A's signature and statement are about the old digest only.
    fails(
        &verify(&image, &a_pub, &[]),
        exit::VERIFICATION,
        "none by this key",
    );
    assert_exit(
        &verify(&format!("{host}/x/spark@{old}"), &a_pub, &[]),
        exit::SUCCESS,
    );
}

//! Signatures (`--sign-key`, `keygen`) against independent verifiers: containers'
//! `sigstoreSigned` check done with skopeo (the registry client) and PyPI's
//! `cryptography` (the signature) on images pushed to a loopback docker-registry
//! ([`skopeo_admits`]), and a Python implementation of
//! cosign's encrypted key format (PyPI's `cryptography` and `PyNaCl`, hashlib's scrypt:
//! `cosign_key.py`) that reads `keygen`'s keys and writes keys `build` signs with. The
//! images are the build theme's small generated fixture.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest as _;

use serde_json::{json, Value};
use sparkimg::exit;

use crate::build::{blob_json, Fixture};
use crate::common::{self, assert_exit, Ran, Sparkimg};
use crate::rebase::{
    build_push_on, in_fixture, push_base_layout, rebase_bases, same_layout, EPOCH,
};
use common::layout_index as index;

const SIG_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

/// `sparkimg keygen` writing `prefix`.key and .pub, the passphrase on stdin (none:
/// the empty one).
pub(crate) fn keygen(prefix: &Path, pass: Option<&str>) -> (PathBuf, PathBuf) {
    let mut run = Sparkimg::new()
        .args(["keygen", "--output-key-prefix"])
        .arg(prefix);
    if let Some(p) = pass {
        run = run.arg("--key-pass-stdin").stdin(format!("{p}\n"));
    }
    run.ok();
    let with = |s: &str| PathBuf::from(format!("{}{s}", prefix.display()));
    (with(".key"), with(".pub"))
}

/// Whether `image` on the loopback registry `host` carries a valid cosign signature by
/// `public`, checked as containers/image's `sigstoreSigned` policy checks it (Debian's
/// skopeo 1.9 has that check patched out: "Debian-local change: sigstore disabled"):
/// skopeo reads the manifest (its digest) and copies the `sha256-<hex>.sig` object into
/// a `dir:`, and for each simple-signing layer `cosign_key.py` verifies the signature
/// over the payload with PyPI's `cryptography`, whose claims must name that digest and
/// the image's repository. Returns the verdict and why.
fn skopeo_admits(host: &str, image: &str, public: &Path) -> (bool, String) {
    assert!(image.starts_with(host), "{image} is not on {host}");
    let python = venv().expect("the signature oracle's venv");
    let tls = ["--tls-verify=false"];
    let manifest = common::skopeo_raw(image, &tls);
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&manifest)));
    let repo = match image.split_once('@') {
        Some((r, _)) => r.to_string(),
        None => image.rsplit_once(':').map(|(r, _)| r.to_string()).unwrap(),
    };
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let sig_dir = dir.path().join("sig");
    let o = Command::new("skopeo")
        .arg("--policy")
        .arg(&policy)
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{repo}:sha256-{}.sig", &digest[7..]))
        .arg(format!("dir:{}", sig_dir.display()))
        .output()
        .unwrap();
    if !o.status.success() {
        return (
            false,
            format!("no signature: {}", String::from_utf8_lossy(&o.stderr)),
        );
    }
    let sig: Value =
        serde_json::from_slice(&fs::read(sig_dir.join("manifest.json")).unwrap()).unwrap();
    let mut why = Vec::new();
    for l in sig["layers"].as_array().unwrap() {
        let payload = sig_dir.join(&l["digest"].as_str().unwrap()[7..]);
        let b64 = l["annotations"]["dev.cosignproject.cosign/signature"]
            .as_str()
            .unwrap();
        let claims: Value = serde_json::from_slice(&fs::read(&payload).unwrap()).unwrap();
        let c = &claims["critical"];
        let named = c["identity"]["docker-reference"]
            .as_str()
            .unwrap_or_default();
        let args = [
            "verify",
            &public.display().to_string(),
            &payload.display().to_string(),
            b64,
        ];
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/cosign_key.py");
        let v = Command::new(&python)
            .arg(script)
            .args(args)
            .output()
            .unwrap();
        match (
            v.status.success(),
            c["image"]["docker-manifest-digest"] == digest.as_str(),
        ) {
            (false, _) => why.push("a signature by another key".to_string()),
            (true, false) => why.push("a signature of another manifest".to_string()),
            (true, true) if !named.starts_with(&format!("{repo}:")) => {
                why.push(format!("a signature naming {named}"))
            }
            (true, true) => return (true, String::new()),
        }
    }
    (false, format!("no valid signature: {why:?}"))
}

fn admitted(host: &str, image: &str, public: &Path) {
    let (ok, err) = skopeo_admits(host, image, public);
    assert!(ok, "skopeo refused {image}: {err}");
}

fn refused(host: &str, image: &str, public: &Path) {
    let (ok, err) = skopeo_admits(host, image, public);
    assert!(!ok, "skopeo admitted {image}");
    assert!(err.to_lowercase().contains("signature"), "{image}: {err}");
}

#[test]
fn skopeo_admits_what_build_signed_and_refuses_the_rest() {
    let Some(reg) = common::LoopbackRegistry::start() else {
        return;
    };
    if !common::need("skopeo") {
        return;
    }
    let host = reg.host();
    let f = Fixture::new();
    let (a_key, a_pub) = keygen(&f.p("a"), Some("pass-a"));
    let (b_key, b_pub) = keygen(&f.p("b"), None);
    let signed = format!("{host}/x/spark:signed");
    let layout = f.p("layout");
    let out = f.build_env(
        &[
            "--json",
            "--push",
            &format!("--name={signed}"),
            &format!("--output=oci:{}", layout.display()),
            &format!("--sign-key={}", a_key.display()),
        ],
        Some(EPOCH),
        &[("SPARKIMG_KEY_PASSWORD", "pass-a")],
    );
    let r = out.json();
    let digest = r["images"][0]["manifest_digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(r["signatures"][0]["digest"], digest.as_str(), "{r:#}");
    assert_eq!(r["signatures"][0]["reference"], signed.as_str(), "{r:#}");
    // The same image unsigned, in another repository: signing left its digest alone.
    let unsigned = format!("{host}/y/spark:unsigned");
    let u = f.build(
        &["--json", "--push", &format!("--name={unsigned}")],
        Some(EPOCH),
    );
    assert_eq!(u.json()["images"][0]["manifest_digest"], digest.as_str());
    admitted(&host, &signed, &a_pub);
    refused(&host, &unsigned, &a_pub);
    refused(&host, &signed, &b_pub);
    // Both ways clusters read: the .sig tag and the referrers tag (no referrers API).
    let hex = digest.trim_start_matches("sha256:");
    let sig: Value = serde_json::from_slice(&common::skopeo_raw(
        &format!("{host}/x/spark:sha256-{hex}.sig"),
        &["--tls-verify=false"],
    ))
    .unwrap();
    let a_layer = sig["layers"][0].clone();
    assert!(a_layer["annotations"]["dev.cosignproject.cosign/signature"].is_string());
    let referrers: Value = serde_json::from_slice(&common::skopeo_raw(
        &format!("{host}/x/spark:sha256-{hex}"),
        &["--tls-verify=false"],
    ))
    .unwrap();
    let types: Vec<&Value> = referrers["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["artifactType"])
        .collect();
    assert!(types.contains(&&json!(SIG_TYPE)), "{referrers:#}");
    // A second signature by B is appended to A's, as cosign appends.
    let src = format!("oci:{}", layout.display());
    let p = Sparkimg::new()
        .args(["push", &src, "--json", "--sign-key"])
        .arg(&b_key)
        .ok();
    assert_eq!(p.json()["signatures"][0]["digest"], digest.as_str());
    admitted(&host, &signed, &b_pub);
    admitted(&host, &signed, &a_pub);
    let sig: Value = serde_json::from_slice(&common::skopeo_raw(
        &format!("{host}/x/spark:sha256-{hex}.sig"),
        &["--tls-verify=false"],
    ))
    .unwrap();
    assert_eq!(sig["layers"].as_array().unwrap().len(), 2, "{sig:#}");
    assert_eq!(sig["layers"][0], a_layer);
    tampered_is_refused(&host, &layout, &a_pub);
}

/// The layout's image manifest changed after signing (an annotation added) and pushed
/// with the old signatures attached to the new digest: skopeo refuses it.
fn tampered_is_refused(host: &str, layout: &Path, public: &Path) {
    let (old, new) = common::tamper_image_manifest(layout);
    common::move_cosign_tags(layout, &old, &new, &["sig"]);
    let to = format!("{host}/x/spark:tampered");
    let src = format!("oci:{}", layout.display());
    Sparkimg::new().args(["push", &src, "--to", &to]).ok();
    refused(host, &to, public);
}

#[test]
fn a_rebase_is_signed_anew_and_the_old_signature_does_not_cover_it() {
    let Some(reg) = common::LoopbackRegistry::start() else {
        return;
    };
    if !common::need("skopeo") {
        return;
    }
    let host = reg.host();
    let f = Fixture::new();
    let (a_key, a_pub) = keygen(&f.p("a"), None);
    let (b_key, b_pub) = keygen(&f.p("b"), None);
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    rebase_bases(&f, &[arch]);
    let base_tag = format!("{host}/base:17");
    push_base_layout(&f, "v1", &base_tag);
    let image = format!("{host}/x/spark:t");
    let sign_a = format!("--sign-key={}", a_key.display());
    let platform = format!("--platform=linux/{arch}");
    let built = build_push_on(&f, &base_tag, &image, &[&platform, &sign_a]);
    let old = built["images"][0]["manifest_digest"]
        .as_str()
        .unwrap()
        .to_string();
    admitted(&host, &image, &a_pub);
    push_base_layout(&f, "v2", &base_tag);
    let sign_b = format!("--sign-key={}", b_key.display());
    let base = format!("--base={base_tag}");
    let r = in_fixture(&f, &["rebase", &image, &base, "--push", "--json", &sign_b]).json();
    let new = r["image"]["manifest_digest"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(r["signatures"][0]["digest"], new.as_str(), "{r:#}");
    admitted(&host, &image, &b_pub);
    // A's signature names the old digest only: it admits that, not the rebased one.
    refused(&host, &image, &a_pub);
    admitted(&host, &format!("{host}/x/spark@{old}"), &a_pub);
    refused(&host, &format!("{host}/x/spark@{old}"), &b_pub);
}

/// The validator venv: PyPI's `cryptography` and `PyNaCl`; its python.
fn venv() -> Option<PathBuf> {
    common::venv("sign-venv", &["cryptography", "PyNaCl"]).map(|d| d.join("bin/python"))
}

fn oracle(python: &Path, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/cosign_key.py");
    let o = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "cosign_key.py {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn cosign_key_format_agrees_with_an_independent_implementation() {
    let Some(python) = venv() else { return };
    let f = Fixture::new();
    let s = |p: &Path| p.display().to_string();
    // keygen's key opens in Python with its passphrase and is the .pub's private half.
    let (k_key, k_pub) = keygen(&f.p("k"), Some("kg pass"));
    assert_eq!(
        oracle(&python, &["read", &s(&k_key), "kg pass", &s(&k_pub)]),
        "ok"
    );
    let again = Sparkimg::new()
        .args(["keygen", "--output-key-prefix"])
        .arg(f.p("k"))
        .run();
    assert_exit(&again, exit::OUTPUT_NOT_OURS);
    // A key Python wrote (legacy scrypt N = 2^15) signs a build; Python verifies it.
    let (py_key, py_pub) = (f.p("py.key"), f.p("py.pub"));
    oracle(
        &python,
        &["write", &s(&py_key), &s(&py_pub), "py-pass", "32768"],
    );
    let sign = format!("--sign-key={}", py_key.display());
    let build = |dir: &str, pass: &str| {
        let out = format!("--output=oci:{}", f.p(dir).display());
        let env = [("SPARKIMG_KEY_PASSWORD", pass)];
        f.build_env(
            &["--json", "--name=example.com/x/spark:1", &out, &sign],
            Some(EPOCH),
            &env,
        )
    };
    let r = build("l1", "py-pass").json();
    let digest = r["images"][0]["manifest_digest"].as_str().unwrap();
    let layout = f.p("l1");
    let idx = index(&layout);
    let entries = idx["manifests"].as_array().unwrap();
    let by_type = |want: bool| -> Vec<&Value> {
        entries
            .iter()
            .filter(|e| e["artifactType"] == SIG_TYPE)
            .filter(|e| e["annotations"]["org.opencontainers.image.ref.name"].is_string() == want)
            .collect()
    };
    let (tagged, referrers) = (by_type(true), by_type(false));
    assert_eq!((tagged.len(), referrers.len()), (1, 1), "{idx:#}");
    let sig = blob_json(&layout, tagged[0]["digest"].as_str().unwrap());
    let layer = &sig["layers"][0];
    let payload = layout
        .join("blobs/sha256")
        .join(&layer["digest"].as_str().unwrap()[7..]);
    let signature = layer["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap();
    assert_eq!(
        oracle(&python, &["verify", &s(&py_pub), &s(&payload), signature]),
        "ok"
    );
    let claims: Value = serde_json::from_slice(&fs::read(&payload).unwrap()).unwrap();
    assert_eq!(
        claims["critical"]["image"]["docker-manifest-digest"],
        digest
    );
    let referrer = blob_json(&layout, referrers[0]["digest"].as_str().unwrap());
    assert_eq!(referrer["subject"]["digest"], digest);
    assert_eq!(&referrer["layers"][0], layer);
    // Deterministic nonces: a rebuild signs to the same bytes.
    build("l2", "py-pass").ok();
    same_layout(&layout, &f.p("l2"));
    key_refusals(&f, &build, &py_pub);
}

/// Wrong passphrase, a public key, keyless: each refused by name with a hint.
fn key_refusals(f: &Fixture, build: &dyn Fn(&str, &str) -> std::process::Output, public: &Path) {
    let o = build("l3", "wrong");
    assert_exit(&o, exit::SIGNING_KEY);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("wrong passphrase for") && err.contains("hint:"),
        "{err}"
    );
    assert!(
        !f.p("l3").exists(),
        "nothing is written before the key opens"
    );
    let o = f.build(&["--sign-key", &public.display().to_string()], Some(EPOCH));
    assert_exit(&o, exit::SIGNING_KEY);
    assert!(String::from_utf8_lossy(&o.stderr).contains("public key"));
    let o = f.build(&["--sign-keyless"], Some(EPOCH));
    assert_exit(&o, exit::NOT_YET);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not offered yet"));
}

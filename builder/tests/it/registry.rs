//! The registry client against a real registry: Debian's `docker-registry` (CNCF
//! distribution 2.8), started per test on 127.0.0.1 with a free port, temporary storage
//! and config; cross-checked with `skopeo`. Access-log lines (`"METHOD URI HTTP/1.1"
//! STATUS`) are counted to prove what went over the wire.
//!
//! Without `docker-registry`, `skopeo` or `openssl` a test is skipped with its reason
//! (`common::skip`, counted by `cargo xtask test`), except under CI=true, where it fails.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common;
use crate::common::{assert_exit, need, Ran, Sparkimg};
use sparkimg::exit;

const REGISTRY: &str = "/usr/bin/docker-registry";

fn tools() -> bool {
    need(REGISTRY) && need("skopeo") && need("openssl")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `docker-registry serve` process; stopped on drop.
struct Registry {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Registry {
    /// `extra` is YAML appended to the config (auth, tls).
    fn start(extra: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n{extra}",
            dir.path().join("data").display()
        );
        fs::write(dir.path().join("config.yml"), config).unwrap();
        let mut r = Registry {
            dir,
            port,
            child: None,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = Command::new(REGISTRY)
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        self.child = Some(child);
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "registry did not start"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }

    /// Access-log requests as `(method, uri, status)`, from byte `from` on.
    fn requests(&self, from: u64) -> Vec<(String, String, u16)> {
        let bytes = fs::read(self.log_path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes[(from as usize).min(bytes.len())..]).into_owned();
        text.lines()
            .filter_map(|l| {
                let start = l.find("] \"")? + 3;
                let rest = &l[start..];
                let (req, tail) = rest.split_once("\" ")?;
                let mut parts = req.split(' ');
                let (m, u) = (parts.next()?, parts.next()?);
                let status = tail.split(' ').next()?.parse().ok()?;
                Some((m.to_string(), u.to_string(), status))
            })
            .collect()
    }

    fn log_len(&self) -> u64 {
        fs::metadata(self.log_path()).map(|m| m.len()).unwrap_or(0)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `sparkimg ARGS` with no credentials from this machine (no Docker or Podman auth
/// file, no home), quick retries, `envs` and `stdin`; its output checked for secrets.
fn isolated(args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut run = Sparkimg::new()
        .args(args)
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env("HOME", "/nonexistent")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CONFIG_HOME")
        .env("SPARKIMG_RETRY_BASE_MS", "200")
        .envs(envs);
    if let Some(input) = stdin {
        run = run.stdin(input);
    }
    let out = run.run();
    common::assert_output_has_no_secret(&out, &secrets());
    out
}

/// Bearer tokens the test token server issued (secrets too: scanned for like passwords).
static ISSUED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Every fake secret of this file's auth scenarios, in the forms it travels in: each
/// `sparkimg` run's stdout and stderr (`--json` included) and, at the end of the auth
/// tests, every file written (layouts, cache, SBOMs, the registry's storage) are
/// scanned for them.
fn secrets() -> Vec<String> {
    let raw = [
        "pw-Basic-S3CR3T",
        "pw-Wrong-S3CR3T",
        "pw-Token-S3CR3T",
        "pw-Nope-S3CR3T",
        "id-Token-S3CR3T",
    ];
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let mut v: Vec<String> = raw.iter().map(|s| s.to_string()).collect();
    v.extend(raw.iter().map(|s| b64(format!("spark:{s}"))));
    // Any fragment of the raw ones.
    v.push("S3CR3T".into());
    for tok in ISSUED.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        v.push(tok.clone());
        // The signature alone, should a token be cut.
        v.extend(tok.rsplit('.').next().map(String::from));
    }
    v
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

// ---- hand-made OCI layouts (bases, multi-arch, big layers) ----

struct Layout {
    dir: PathBuf,
    entries: Vec<Value>,
}

impl Layout {
    fn new(dir: &Path) -> Layout {
        fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_path_buf(),
            entries: Vec::new(),
        }
    }

    fn blob(&self, bytes: &[u8]) -> Value {
        let d = sha256(bytes);
        fs::write(self.dir.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
        json!({"digest": d, "size": bytes.len()})
    }

    /// A manifest of `layers` (gzip blobs with their diff ids) for `arch`.
    fn image(&self, arch: &str, layers: &[(Vec<u8>, String)]) -> Value {
        let config = json!({
            "architecture": arch, "os": "linux",
            "config": {"Env": ["PATH=/usr/bin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.1.clone()).collect::<Vec<_>>()},
        });
        let mut c = self.blob(config.to_string().as_bytes());
        c["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
        let ls: Vec<Value> = layers
            .iter()
            .map(|(b, _)| {
                let mut d = self.blob(b);
                d["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
                d
            })
            .collect();
        let m = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": c, "layers": ls,
        });
        let mut d = self.blob(m.to_string().as_bytes());
        d["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
        d["platform"] = json!({"os": "linux", "architecture": arch});
        d
    }

    fn add(&mut self, mut desc: Value, name: &str) {
        desc["annotations"] = json!({"org.opencontainers.image.ref.name": name});
        self.entries.push(desc);
        let idx = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": self.entries});
        fs::write(self.dir.join("index.json"), idx.to_string()).unwrap();
    }
}

/// gzip(tar(files)) and the tar's digest (the diff id).
fn layer(files: &[(&str, &[u8], u32)]) -> (Vec<u8>, String) {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, p, *data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let diff = sha256(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    (gz.finish().unwrap(), diff)
}

fn base_layer() -> (Vec<u8>, String) {
    layer(&[
        ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644),
        ("usr/lib/jvm/jre-17/bin/java", b"#!/bin/sh\n", 0o755),
        // spark-py images need python3 from the base (else sparkimg would add it).
        ("usr/bin/python3", b"#!/bin/sh\n", 0o755),
    ])
}

/// A fake Spark distribution and an entrypoint file: enough for `sparkimg build`.
fn build_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let home = dir.join("spark");
    for (p, b, m) in [
        ("jars/spark-core_2.12-3.5.3.jar", &b"PK core"[..], 0o644),
        ("jars/other.jar", b"PK other", 0o644),
        ("bin/spark-submit", b"#!/bin/sh\n", 0o755),
        ("python/pyspark/__init__.py", b"#\n", 0o644),
        ("RELEASE", b"Spark 3.5.3 built for Hadoop 3.3.4\n", 0o644),
    ] {
        let f = home.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(&f, b).unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(m)).unwrap();
    }
    let ep = dir.join("spark-entrypoint");
    fs::write(&ep, b"\x7fELF not really").unwrap();
    fs::set_permissions(&ep, fs::Permissions::from_mode(0o755)).unwrap();
    (home, ep)
}

fn build_args<'a>(dir: &'a Path, home: &'a Path, ep: &'a Path, base: &'a str) -> Vec<String> {
    vec![
        "build".into(),
        "--spark-home".into(),
        home.display().to_string(),
        "--base".into(),
        base.into(),
        "--entrypoint-binary".into(),
        ep.display().to_string(),
        "--cache-dir".into(),
        dir.join("cache").display().to_string(),
        "--progress".into(),
        "lines".into(),
        "--json".into(),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn push_build_pull_repush_mount_and_v2s2_base() {
    if !tools() {
        return;
    }
    let mut reg = Registry::start("");
    let host = reg.host();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();

    // A base image, pushed by us, then copied by skopeo as Docker v2 schema 2.
    let mut base = Layout::new(&t.join("base"));
    let img = base.image("amd64", &[base_layer()]);
    base.add(img, "1");
    let cache = t.join("cache").display().to_string();
    let o = isolated(
        &[
            "push",
            &format!("oci:{}", t.join("base").display()),
            "--to",
            &format!("{host}/x/base:1"),
            "--cache-dir",
            &cache,
            "--json",
        ],
        &[],
        None,
    );
    let v = o.json();
    let base_digest = v["pushed"][0]["digest"].as_str().unwrap().to_string();
    assert_eq!(
        sha256(&common::skopeo_raw(
            &format!("{host}/x/base:1"),
            &["--tls-verify=false"]
        )),
        base_digest
    );
    run(Command::new("skopeo").args([
        "copy",
        "-q",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--format",
        "v2s2",
        &format!("docker://{host}/x/base:1"),
        &format!("docker://{host}/x/base-v2s2:1"),
    ]));
    let v2 = common::skopeo_raw(&format!("{host}/x/base-v2s2:1"), &["--tls-verify=false"]);
    assert!(String::from_utf8_lossy(&v2)
        .contains("application/vnd.docker.distribution.manifest.v2+json"));

    let (home, ep) = build_inputs(t);
    for (n, (base_ref, expect_digest)) in [
        (format!("{host}/x/base:1"), base_digest.clone()),
        (format!("{host}/x/base-v2s2:1"), sha256(&v2)),
    ]
    .into_iter()
    .enumerate()
    {
        let team = format!("team{n}");
        // Build on the registry base and push: -p gives two images sharing layers.
        let out = t.join(format!("out-{}", &expect_digest[7..15]));
        let mut args = build_args(t, &home, &ep, &base_ref);
        args.extend([
            "-r".into(),
            format!("{host}/{team}"),
            "-t".into(),
            "3.5.3".into(),
            "-p".into(),
            "--output".into(),
            format!("oci:{}", out.display()),
            "--push".into(),
        ]);
        let before = reg.log_len();
        let v = isolated(&strs(&args), &[], None).json();
        let images = v["images"].as_array().unwrap();
        let pushed = v["pushed"].as_array().unwrap();
        assert_eq!(images.len(), 2);
        for (i, p) in images.iter().zip(pushed) {
            check_pushed_image(i, p, &base_ref, &expect_digest);
        }
        // The base layer was mounted from the base repository, not uploaded again; the
        // second image mounted the first one's layers.
        let reqs = reg.requests(before);
        check_mounts(&reqs, n, &base_ref, &team);

        // skopeo can copy what we pushed (every blob is there and verifies).
        let copy = t.join(format!("copy-{}", &expect_digest[7..15]));
        run(Command::new("skopeo").args([
            "copy",
            "-q",
            "--src-tls-verify=false",
            &format!("docker://{host}/{team}/spark:3.5.3"),
            &format!("oci:{}:x", copy.display()),
        ]));

        check_repush_unchanged(&reg, &out, &cache);
    }

    check_push_elsewhere_mounts(&reg, t, (&home, &ep), &cache);

    // By digest: the name keeps the digest; once cached, no registry is needed at all.
    let by_digest = format!("{host}/x/base@{base_digest}");
    for round in 0..2 {
        let mut args = build_args(t, &home, &ep, &by_digest);
        args.extend([
            "--name".into(),
            "local/spark:1".into(),
            "--output".into(),
            format!("oci:{}", t.join(format!("out-digest{round}")).display()),
        ]);
        let v = isolated(&strs(&args), &[], None).json();
        assert_eq!(v["base"], json!(by_digest));
        reg.kill();
    }
}

/// A pushed image as its report `i` and push record `p` say, and as the registry holds it:
/// its manifest, annotated with base `base_ref` at `expect_digest`.
fn check_pushed_image(i: &Value, p: &Value, base_ref: &str, expect_digest: &str) {
    assert_eq!(i["manifest_digest"], p["digest"]);
    let r = i["reference"].as_str().unwrap();
    let raw = common::skopeo_raw(r, &["--tls-verify=false"]);
    assert_eq!(sha256(&raw), i["manifest_digest"].as_str().unwrap());
    let m: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        m["annotations"]["org.opencontainers.image.base.name"],
        json!(base_ref)
    );
    assert_eq!(
        m["annotations"]["org.opencontainers.image.base.digest"],
        json!(expect_digest)
    );
}

/// The same image to another repository, in a later run: mounted (the cache remembers
/// where the blobs are), nothing uploaded but the SBOM document, which names the image.
fn check_push_elsewhere_mounts(reg: &Registry, t: &Path, inputs: (&Path, &Path), cache: &str) {
    let (home, ep) = inputs;
    let host = reg.host();
    // The same image to another repository, in a later run: mounted (the cache
    // remembers where the blobs are), nothing uploaded.
    let out = t.join("out-second");
    let mut args = build_args(t, home, ep, &format!("{host}/x/base:1"));
    args.extend([
        "--name".into(),
        format!("{host}/team/spark:3.5.3"),
        "--output".into(),
        format!("oci:{}", out.display()),
    ]);
    isolated(&strs(&args), &[], None).ok();
    let before = reg.log_len();
    let v = isolated(
        &[
            "push",
            &format!("oci:{}", out.display()),
            "--to",
            &format!("{host}/elsewhere/spark:1"),
            "--cache-dir",
            cache,
            "--json",
        ],
        &[],
        None,
    )
    .json();
    assert_eq!(v["pushed"][0]["blobs_uploaded"], json!(0), "{v}");
    let reqs = reg.requests(before);
    assert!(reqs.iter().any(|(m, u, s)| m == "POST"
        && u.starts_with("/v2/elsewhere/spark/blobs/uploads/?mount=")
        && u.contains("&from=")
        && *s == 201));
    // Only the SBOM document is new (it names the image), so only it is uploaded.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    let sbom_docs: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("artifactType").is_some())
        .map(|e| {
            let hex = e["digest"].as_str().unwrap().trim_start_matches("sha256:");
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(out.join("blobs/sha256").join(hex)).unwrap())
                    .unwrap();
            // By hex: the upload URL carries the digest percent-encoded.
            m["layers"][0]["digest"].as_str().unwrap()[7..].to_string()
        })
        .collect();
    assert!(!sbom_docs.is_empty());
    assert!(!reqs.iter().any(|(m, u, _)| m == "PUT"
        && u.contains("/blobs/uploads/")
        && !sbom_docs.iter().any(|d| u.contains(d.as_str()))));
}

/// Re-pushing layout `out` unchanged: HEADs and one manifest PUT per image, nothing
/// else, besides each image's SBOM referrer (by digest) and its referrers tag.
fn check_repush_unchanged(reg: &Registry, out: &Path, cache: &str) {
    // Re-push unchanged: HEADs and one manifest PUT per image, nothing else, besides
    // each image's SBOM referrer (by digest) and its referrers tag (`sha256-<hex>`).
    let before = reg.log_len();
    isolated(
        &[
            "push",
            &format!("oci:{}", out.display()),
            "--cache-dir",
            cache,
        ],
        &[],
        None,
    )
    .ok();
    let reqs = reg.requests(before);
    let (puts, referrer_puts): (Vec<_>, Vec<_>) = reqs
        .iter()
        .filter(|(m, _, _)| m == "PUT")
        .partition(|(_, u, _)| !u.contains("/manifests/sha256"));
    assert_eq!(puts.len(), 2, "{reqs:?}");
    assert_eq!(referrer_puts.len(), 4, "{reqs:?}");
    assert!(puts
        .iter()
        .all(|(_, u, s)| u.contains("/manifests/3.5.3") && *s == 201));
    for (m, u, s) in &reqs {
        assert!(
            (m == "HEAD" && u.contains("/blobs/sha256:") && *s == 200)
                || m == "PUT"
                || (m == "GET" && u == "/v2/"),
            "unexpected request on an unchanged push: {m} {u} {s}"
        );
    }
}

/// Round `n`'s build pushes of `push_build_pull_repush_mount_and_v2s2_base`, as
/// requests `reqs`: the base layer mounted from its repository, never uploaded again;
/// spark-py's layers mounted from spark's.
fn check_mounts(reqs: &[(String, String, u16)], n: usize, base_ref: &str, team: &str) {
    let base_repo = base_ref
        .split_once('/')
        .unwrap()
        .1
        .split(':')
        .next()
        .unwrap()
        .replace('/', "%2F");
    // (The second round finds the same base layer through the first round's pushes,
    // remembered in the cache; any mount is fine, an upload is not.)
    assert!(
        n == 1
            || reqs.iter().any(|(m, u, s)| m == "POST"
                && u.contains("mount=")
                && u.ends_with(&format!("from={base_repo}"))
                && *s == 201),
        "no mount from the base repo: {reqs:?}"
    );
    let base_blob = sha256(&base_layer().0);
    assert!(
        !reqs
            .iter()
            .any(|(m, u, _)| m == "PUT" && u.contains(&base_blob[7..])),
        "the base layer was uploaded again: {reqs:?}"
    );
    assert!(
        reqs.iter().any(|(m, u, s)| m == "POST"
            && u.starts_with(&format!("/v2/{team}/spark-py/"))
            && u.ends_with(&format!("from={team}%2Fspark"))
            && *s == 201),
        "spark-py did not mount from spark: {reqs:?}"
    );
}

/// `build --push` with no --output: the blobs go from the layer store to the registry
/// and nothing is written in the working directory (no `sparkimg-out/`).
#[test]
fn build_push_alone_writes_nothing_in_the_working_directory() {
    if !tools() {
        return;
    }
    let reg = Registry::start("");
    let host = reg.host();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut base = Layout::new(&t.join("base"));
    let img = base.image("amd64", &[base_layer()]);
    base.add(img, "1");
    let (home, ep) = build_inputs(t);
    let cwd = t.join("cwd");
    fs::create_dir(&cwd).unwrap();
    let mut args = build_args(t, &home, &ep, &format!("oci:{}", t.join("base").display()));
    args.extend([
        "-r".into(),
        format!("{host}/x"),
        "-t".into(),
        "3.5.9".into(),
        "--push".into(),
    ]);
    let o = Sparkimg::new()
        .args(&args)
        .current_dir(&cwd)
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env("HOME", "/nonexistent")
        .env_remove("XDG_RUNTIME_DIR")
        .run();
    let v = o.json();
    let left: Vec<_> = fs::read_dir(&cwd)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        left.is_empty(),
        "files left in the working directory: {left:?}"
    );
    let reference = format!("{host}/x/spark:3.5.9");
    assert_eq!(v["pushed"][0]["reference"], json!(reference), "{v}");
    let digest = v["images"][0]["manifest_digest"].as_str().unwrap();
    assert_eq!(v["pushed"][0]["digest"], json!(digest));
    let raw = common::skopeo_raw(&reference, &["--tls-verify=false"]);
    assert_eq!(sha256(&raw), digest);
    // Every layer the manifest names is in the registry.
    let m: Value = serde_json::from_slice(&raw).unwrap();
    for l in m["layers"].as_array().unwrap() {
        let d = l["digest"].as_str().unwrap();
        let url = format!("http://{host}/v2/x/spark/blobs/{d}");
        let head = Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "-I", &url])
            .status()
            .unwrap();
        assert!(head.success(), "{d} missing from the registry");
    }
}

#[test]
fn multi_arch_index_push_and_platform_pull() {
    if !tools() {
        return;
    }
    let reg = Registry::start("");
    let host = reg.host();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut l = Layout::new(&t.join("multi"));
    let shared = base_layer();
    let amd = l.image("amd64", &[shared.clone(), layer(&[("amd", b"x86", 0o644)])]);
    let arm = l.image("arm64", &[shared, layer(&[("arm", b"aarch64", 0o644)])]);
    let idx = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [amd, arm]});
    let mut d = l.blob(idx.to_string().as_bytes());
    d["mediaType"] = json!("application/vnd.oci.image.index.v1+json");
    l.add(d.clone(), "multi");
    let before = reg.log_len();
    let v = isolated(
        &[
            "push",
            &format!("oci:{}", t.join("multi").display()),
            "--to",
            &format!("{host}/x/multi:1"),
            "--json",
        ],
        &[],
        None,
    )
    .json();
    assert_eq!(v["pushed"][0]["digest"], d["digest"]);
    // 5 distinct blobs: 2 configs, the shared layer once, 2 arch layers.
    assert_eq!(v["pushed"][0]["blobs_uploaded"], json!(5), "{v}");
    let raw = common::skopeo_raw(&format!("{host}/x/multi:1"), &["--tls-verify=false"]);
    assert_eq!(sha256(&raw), d["digest"].as_str().unwrap());
    let back: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(back["manifests"].as_array().unwrap().len(), 2);
    // Children by digest before the index by tag.
    let reqs = reg.requests(before);
    let puts: Vec<&String> = reqs
        .iter()
        .filter(|(m, u, _)| m == "PUT" && u.contains("/manifests/"))
        .map(|r| &r.1)
        .collect();
    assert_eq!(puts.len(), 3);
    assert!(puts[0].contains("/manifests/sha256:") && puts[1].contains("/manifests/sha256:"));
    assert!(puts[2].ends_with("/manifests/1"));
    let tag_put = reqs
        .iter()
        .position(|(m, u, _)| m == "PUT" && u.ends_with("/manifests/1"))
        .unwrap();
    assert!(reqs[tag_put..]
        .iter()
        .all(|(m, _, _)| m != "POST" && m != "HEAD"));

    // Pull the arm64 variant as a base.
    let (home, ep) = build_inputs(t);
    let mut args = build_args(t, &home, &ep, &format!("{host}/x/multi:1"));
    args.extend([
        "--platform".into(),
        "linux/arm64".into(),
        "--name".into(),
        "local/spark:1".into(),
        "--output".into(),
        format!("oci:{}", t.join("o").display()),
    ]);
    let v = isolated(&strs(&args), &[], None).json();
    assert_eq!(v["images"][0]["platform"], json!("linux/arm64"));
    let mut args = build_args(t, &home, &ep, &format!("{host}/x/multi:1"));
    args.extend([
        "--platform".into(),
        "linux/s390x".into(),
        "--name".into(),
        "local/spark:1".into(),
        "--output".into(),
        format!("oci:{}", t.join("o2").display()),
    ]);
    let o = isolated(&strs(&args), &[], None);
    assert_exit(&o, exit::REGISTRY);
    assert!(String::from_utf8_lossy(&o.stderr).contains("linux/amd64, linux/arm64"));
}

#[test]
fn registry_killed_mid_upload_push_retries_and_completes() {
    if !tools() {
        return;
    }
    let mut reg = Registry::start("");
    let host = reg.host();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // ~96 MB of incompressible data in one layer: the PUT takes long enough on loopback
    // to be interrupted.
    let mut rnd = vec![0u8; 96 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for c in rnd.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
    }
    let big = layer(&[("big.bin", &rnd, 0o644)]);
    drop(rnd);
    let mut l = Layout::new(&t.join("big"));
    let img = l.image("amd64", &[base_layer(), big.clone()]);
    l.add(img.clone(), "1");
    let big_digest = sha256(&big.0);

    let mut interrupted = false;
    for round in 0..4 {
        let target = format!("{host}/x/big{round}:1");
        let before = reg.log_len();
        let child = Sparkimg::new()
            .args([
                "push",
                &format!("oci:{}", t.join("big").display()),
                "--to",
                &target,
                "--json",
                "--registry-retries",
                "10",
                "--progress",
                "lines",
            ])
            .env("SPARKIMG_RETRY_BASE_MS", "300")
            .env("HOME", "/nonexistent")
            .command()
            .spawn()
            .unwrap();
        // Kill as soon as the big blob's upload session exists (POST answered), i.e. while
        // its PUT streams.
        let t0 = Instant::now();
        let mut killed = false;
        while t0.elapsed() < Duration::from_secs(30) {
            let posts = reg
                .requests(before)
                .iter()
                .filter(|(m, u, s)| {
                    m == "POST" && u.contains(&format!("/x/big{round}/blobs/uploads/")) && *s == 202
                })
                .count();
            if posts >= 2 {
                reg.kill();
                killed = true;
                break;
            }
            thread::sleep(Duration::from_millis(1));
        }
        assert!(killed, "never saw the uploads start");
        thread::sleep(Duration::from_millis(700));
        reg.spawn();
        let o = child.wait_with_output().unwrap();
        let v = o.json();
        assert_eq!(v["pushed"][0]["digest"], img["digest"]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        let raw = common::skopeo_raw(&target, &["--tls-verify=false"]);
        assert_eq!(sha256(&raw), img["digest"].as_str().unwrap());
        // The big blob was accepted by a PUT after the restart, in a new session.
        let after = reg.requests(before);
        let big_puts = after
            .iter()
            .filter(|(m, u, s)| m == "PUT" && u.contains(&big_digest[7..]) && *s == 201)
            .count();
        assert_eq!(big_puts, 1);
        if stderr.contains("retrying") {
            interrupted = true;
            break;
        }
    }
    assert!(
        interrupted,
        "the registry was never killed during an upload"
    );
}

// ---- TLS + htpasswd ----

fn openssl(dir: &Path, args: &[&str]) {
    run(Command::new("openssl").args(args).current_dir(dir));
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn test_ca(dir: &Path) {
    fs::write(
        dir.join("san.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=sparkimg test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "san.cnf",
        ],
    );
}

#[test]
fn basic_auth_over_tls_with_test_ca() {
    if !tools() || !need("htpasswd") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    test_ca(t);
    let htp = run(Command::new("htpasswd").args(["-Bbn", "spark", "pw-Basic-S3CR3T"]));
    fs::write(t.join("htpasswd"), htp).unwrap();
    let reg = Registry::start(
        &format!(
            "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: test\n    path: {}\n",
            t.join("server.pem").display(),
            t.join("server.key").display(),
            t.join("htpasswd").display()
        ),
    );
    let host = reg.host();
    let mut l = Layout::new(&t.join("img"));
    let img = l.image("amd64", &[base_layer()]);
    l.add(img.clone(), "1");
    let src = format!("oci:{}", t.join("img").display());
    let ca = t.join("ca.pem").display().to_string();
    let target = format!("{host}/secure/img:1");

    basic_auth_refusals(t, &host, &src, &ca);

    // --username + --password-stdin.
    let v = isolated(
        &[
            "push",
            &src,
            "--to",
            &target,
            "--username",
            "spark",
            "--password-stdin",
            "--ca-cert",
            &ca,
            "--json",
        ],
        &[],
        Some("pw-Basic-S3CR3T\n"),
    )
    .json();
    assert_eq!(v["pushed"][0]["digest"], img["digest"]);
    // Credentials from a docker config.json (auths → base64 user:pass).
    let dc = t.join("docker");
    fs::create_dir_all(&dc).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("spark:pw-Basic-S3CR3T");
    fs::write(
        dc.join("config.json"),
        json!({"auths": {host.clone(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let v = isolated(
        &[
            "push",
            &src,
            "--to",
            &format!("{host}/secure/img:2"),
            "--ca-cert",
            &ca,
            "--json",
        ],
        &[("DOCKER_CONFIG", &dc.display().to_string())],
        None,
    )
    .json();
    assert_eq!(v["pushed"][0]["blobs_present"], json!(2));
    push_with_credential_helper(t, &host, &src, &ca);
    // And podman's auth.json via REGISTRY_AUTH_FILE.
    let af = t.join("auth.json");
    fs::write(
        &af,
        json!({"auths": {host.clone(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    isolated(
        &[
            "push",
            &src,
            "--to",
            &format!("{host}/secure/img:3"),
            "--ca-cert",
            &ca,
        ],
        &[("REGISTRY_AUTH_FILE", &af.display().to_string())],
        None,
    )
    .ok();
    let out = run(Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--cert-dir",
            &t.join("certs").display().to_string(),
            "--creds",
            "spark:pw-Basic-S3CR3T",
            &format!("docker://{host}/secure/img:3"),
        ])
        .env("SSL_CERT_FILE", &ca));
    assert_eq!(sha256(out.as_bytes()), img["digest"].as_str().unwrap());
    // Nothing written holds a secret: the layouts, the registry's storage (manifests,
    // configs, labels), its log. The credential inputs themselves are left out.
    let inputs = ["docker", "docker-helper", "bin", "auth.json"].map(|i| t.join(i));
    let n = common::assert_tree_has_no_secret(t, &inputs, &secrets())
        + common::assert_tree_has_no_secret(reg.dir.path(), &[], &secrets());
    assert!(n > 10, "only {n} files scanned");
}

/// A push whose credentials come from the helper `credHelpers` names for `host`.
fn push_with_credential_helper(t: &Path, host: &str, src: &str, ca: &str) {
    // The helper named by credHelpers: `docker-credential-<name> get` reads the
    // server on stdin and answers JSON.
    let bin = t.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-sparkimgtest");
    fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\n[ \"$1\" = get ] && [ \"$server\" = \"{host}\" ] || exit 1\n\
             echo '{{\"ServerURL\":\"{host}\",\"Username\":\"spark\",\"Secret\":\"pw-Basic-S3CR3T\"}}'\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).unwrap();
    let hc = t.join("docker-helper");
    fs::create_dir_all(&hc).unwrap();
    fs::write(
        hc.join("config.json"),
        json!({"credHelpers": {host: "sparkimgtest"}}).to_string(),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    isolated(
        &[
            "push",
            src,
            "--to",
            &format!("{host}/secure/img:4"),
            "--ca-cert",
            ca,
        ],
        &[
            ("DOCKER_CONFIG", &hc.display().to_string()),
            ("PATH", &path),
        ],
        None,
    )
    .ok();
}

/// The refusals of `basic_auth_over_tls_with_test_ca`: a wrong password (exit 10, the
/// registry and repository named), no CA (a certificate error, not retried), nothing
/// tagged, and no credentials at all (exit 10, saying where they come from).
fn basic_auth_refusals(t: &Path, host: &str, src: &str, ca: &str) {
    let target = format!("{host}/secure/img:1");
    // Wrong password: exit 10, the registry and repository named, nothing tagged.
    let o = isolated(
        &[
            "push",
            src,
            "--to",
            &target,
            "--creds",
            "spark:pw-Wrong-S3CR3T",
            "--ca-cert",
            ca,
        ],
        &[],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_exit(&o, exit::REGISTRY_AUTH);
    assert!(
        err.contains(&format!("{host}/secure/img")) && err.contains("401"),
        "{err}"
    );
    assert!(!err.contains("pw-Wrong"), "the password leaked: {err}");
    // No CA: the certificate is refused, and plain HTTP is no way around TLS errors.
    let o = isolated(
        &[
            "push",
            src,
            "--to",
            &target,
            "--creds",
            "spark:pw-Basic-S3CR3T",
        ],
        &[],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_exit(&o, exit::REGISTRY);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(
        !err.contains("retrying"),
        "a certificate error is not transient: {err}"
    );
    let tags = Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--cert-dir",
            &t.display().to_string(),
            "--creds",
            "spark:pw-Basic-S3CR3T",
            &format!("docker://{target}"),
        ])
        .env("SSL_CERT_FILE", ca)
        .output()
        .unwrap();
    assert!(
        !tags.status.success(),
        "something was tagged after failed pushes"
    );

    // No credentials at all: exit 10, saying where credentials come from.
    let o = isolated(&["push", src, "--to", &target, "--ca-cert", ca], &[], None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_exit(&o, exit::REGISTRY_AUTH);
    assert!(err.contains("no credentials were found"), "{err}");
}

// ---- Bearer tokens from a test token server ----

/// A token server: grants whatever is asked to user `spark` (Basic), signs RS256 JWTs
/// with `key.pem` and puts `cert.pem` in the `x5c` header, which the registry checks
/// against its rootcertbundle. Records the requested scopes.
struct TokenServer {
    port: u16,
    scopes: Arc<Mutex<Vec<Vec<String>>>>,
    stop: Arc<AtomicBool>,
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn sign_jwt(dir: &Path, service: &str, access: Value) -> String {
    let pem = fs::read_to_string(dir.join("token.pem")).unwrap();
    let der_b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [der_b64]});
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": "sparkimg-test-issuer", "sub": "spark", "aud": service,
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", rand_u64()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(dir.join("token.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(signing_input.as_bytes())
        .unwrap();
    let sig = child.wait_with_output().unwrap().stdout;
    format!("{signing_input}.{}", b64url(&sig))
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut b)
        .unwrap();
    u64::from_le_bytes(b)
}

impl TokenServer {
    fn start(dir: &Path) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let scopes = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sc, st, dir) = (scopes.clone(), stop.clone(), dir.to_path_buf());
        thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let Ok((conn, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                let mut authz = None;
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        if k.eq_ignore_ascii_case("authorization") {
                            authz = Some(v.trim().to_string());
                        }
                        if k.eq_ignore_ascii_case("content-length") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let target = line.split(' ').nth(1).unwrap_or("");
                let url = url::Url::parse(&format!("http://x{target}")).unwrap();
                let mut service = String::new();
                let mut asked = Vec::new();
                let mut refresh = None;
                // GET: Basic credentials and scopes in the query. POST (OAuth2, for
                // identity tokens): a form with grant_type=refresh_token and a
                // space-separated scope.
                let mut body = vec![0u8; len];
                r.read_exact(&mut body).unwrap();
                let form = url::form_urlencoded::parse(&body)
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect::<Vec<_>>();
                for (k, v) in url
                    .query_pairs()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .chain(form)
                {
                    match k.as_str() {
                        "service" => service = v,
                        "scope" => asked.extend(v.split(' ').map(String::from)),
                        "refresh_token" => refresh = Some(v),
                        _ => {}
                    }
                }
                let good = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode("spark:pw-Token-S3CR3T")
                );
                let mut conn = conn;
                let allowed = authz.as_deref() == Some(good.as_str())
                    || (line.starts_with("POST ") && refresh.as_deref() == Some("id-Token-S3CR3T"));
                if !allowed {
                    let body = r#"{"details":"bad credentials"}"#;
                    let _ = write!(conn, "HTTP/1.1 401 Unauthorized\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                    continue;
                }
                sc.lock().unwrap().push(asked.clone());
                let access: Vec<Value> = asked
                    .iter()
                    .filter_map(|s| {
                        let (rest, actions) = s.rsplit_once(':')?;
                        let (typ, name) = rest.split_once(':')?;
                        Some(json!({"type": typ, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
                    })
                    .collect();
                let tok = sign_jwt(&dir, &service, json!(access));
                ISSUED
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(tok.clone());
                let body = json!({"token": tok, "expires_in": 300}).to_string();
                let _ = write!(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            }
        });
        TokenServer { port, scopes, stop }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[test]
fn bearer_token_auth_with_scopes() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    token_signing_cert(t);
    let ts = TokenServer::start(t);
    let reg = Registry::start(
        &format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: sparkimg-test\n    issuer: sparkimg-test-issuer\n    rootcertbundle: {}\n",
            ts.port,
            t.join("token.pem").display()
        ),
    );
    let host = reg.host();
    let mut l = Layout::new(&t.join("img"));
    let img = l.image("amd64", &[base_layer()]);
    l.add(img.clone(), "1");
    let src = format!("oci:{}", t.join("img").display());
    let cache = t.join("cache").display().to_string();

    let o = isolated(
        &[
            "push",
            &src,
            "--to",
            &format!("{host}/a/img:1"),
            "--creds",
            "spark:pw-Nope-S3CR3T",
        ],
        &[],
        None,
    );
    assert_exit(&o, exit::REGISTRY_AUTH);

    let v = isolated(
        &[
            "push",
            &src,
            "--to",
            &format!("{host}/a/img:1"),
            "--creds",
            "spark:pw-Token-S3CR3T",
            "--cache-dir",
            &cache,
            "--json",
        ],
        &[],
        None,
    )
    .json();
    assert_eq!(v["pushed"][0]["digest"], img["digest"]);
    // One token for the whole push (reused), push scope first.
    let asked = ts.scopes.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0][0], "repository:a/img:pull,push");

    // Second repository: the token also asks pull on the mount source, and mounts work.
    ts.scopes.lock().unwrap().clear();
    let before = reg.log_len();
    let v = isolated(
        &[
            "push",
            &src,
            "--to",
            &format!("{host}/b/img:1"),
            "--creds",
            "spark:pw-Token-S3CR3T",
            "--cache-dir",
            &cache,
            "--json",
        ],
        &[],
        None,
    )
    .json();
    assert_eq!(v["pushed"][0]["blobs_mounted"], json!(2), "{v}");
    let asked = ts.scopes.lock().unwrap().clone();
    assert_eq!(
        asked[0],
        vec![
            "repository:b/img:pull,push".to_string(),
            "repository:a/img:pull".to_string()
        ]
    );
    assert!(reg
        .requests(before)
        .iter()
        .any(|(m, u, s)| m == "POST" && u.contains("from=a%2Fimg") && *s == 201));

    push_with_identity_token(t, &host, &src, &ts, &img);

    // Pull through tokens too.
    let (home, ep) = build_inputs(t);
    let mut args = build_args(t, &home, &ep, &format!("{host}/b/img:1"));
    args.extend([
        "--name".into(),
        format!("{host}/built/spark:1"),
        "--output".into(),
        format!("oci:{}", t.join("o").display()),
        "--push".into(),
        "--creds".into(),
        "spark:pw-Token-S3CR3T".into(),
        "--sbom-dir".into(),
        t.join("sboms").display().to_string(),
    ]);
    isolated(&strs(&args), &[], None).ok();
    assert!(!ISSUED.lock().unwrap().is_empty());
    // Nothing written holds a password or a token: the pushed images in the registry's
    // storage, the built layout (configs, labels), its SBOMs, the cache.
    let n = common::assert_tree_has_no_secret(t, &[t.join("docker")], &secrets())
        + common::assert_tree_has_no_secret(reg.dir.path(), &[], &secrets());
    assert!(n > 10, "only {n} files scanned");
}

/// The token signer's key and self-signed certificate, `token.key` and `token.pem` in `t`.
fn token_signing_cert(t: &Path) {
    openssl(
        t,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "token.key",
            "-out",
            "token.pem",
            "-days",
            "2",
            "-subj",
            "/CN=sparkimg token signer",
        ],
    );
}

/// A push with an identity token from config.json, exchanged with the OAuth2 POST.
fn push_with_identity_token(t: &Path, host: &str, src: &str, ts: &TokenServer, img: &Value) {
    // An identity token from config.json: exchanged with the OAuth2 POST.
    let dc = t.join("docker");
    fs::create_dir_all(&dc).unwrap();
    fs::write(
        dc.join("config.json"),
        json!({"auths": {host: {"identitytoken": "id-Token-S3CR3T"}}}).to_string(),
    )
    .unwrap();
    ts.scopes.lock().unwrap().clear();
    let v = isolated(
        &["push", src, "--to", &format!("{host}/c/img:1"), "--json"],
        &[("DOCKER_CONFIG", &dc.display().to_string())],
        None,
    )
    .json();
    assert_eq!(v["pushed"][0]["digest"], img["digest"]);
    assert_eq!(
        ts.scopes.lock().unwrap()[0][0],
        "repository:c/img:pull,push"
    );
}

#[test]
fn pull_resumes_a_partial_blob_with_a_range_request() {
    if !tools() {
        return;
    }
    let reg = Registry::start("");
    let host = reg.host();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut noise = vec![0u8; 2 << 20];
    fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut noise)
        .unwrap();
    let big = layer(&[("noise.bin", &noise, 0o644)]);
    let mut l = Layout::new(&t.join("img"));
    let img = l.image("amd64", &[base_layer(), big.clone()]);
    l.add(img, "1");
    isolated(
        &[
            "push",
            &format!("oci:{}", t.join("img").display()),
            "--to",
            &format!("{host}/x/resume:1"),
        ],
        &[],
        None,
    )
    .ok();
    // Half the blob, as an interrupted pull leaves it.
    let digest = sha256(&big.0);
    let partial = t.join(format!(
        "cache/registry/blobs/sha256/{}.partial",
        &digest[7..]
    ));
    fs::create_dir_all(partial.parent().unwrap()).unwrap();
    let half = big.0.len() / 2;
    fs::write(&partial, &big.0[..half]).unwrap();
    let before = reg.log_len();
    let (home, ep) = build_inputs(t);
    let mut args = build_args(t, &home, &ep, &format!("{host}/x/resume:1"));
    args.extend([
        "--name".into(),
        "local/spark:1".into(),
        "--output".into(),
        format!("oci:{}", t.join("o").display()),
    ]);
    isolated(&strs(&args), &[], None).ok();
    let gets: Vec<_> = reg
        .requests(before)
        .into_iter()
        .filter(|(m, u, _)| m == "GET" && u.ends_with(&digest))
        .collect();
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert_eq!(gets[0].2, 206, "the partial blob was not resumed: {gets:?}");
    assert!(!partial.exists());
    let done = fs::read(t.join(format!("cache/registry/blobs/sha256/{}", &digest[7..]))).unwrap();
    assert_eq!(sha256(&done), digest);
}

/// A loopback proxy in front of the registry that answers the first request matching
/// each rule with an injected status instead of forwarding it. One request per upstream
/// connection (`Connection: close`), so responses can be relayed until EOF.
fn fault_proxy(
    upstream: u16,
    rules: Vec<(&'static str, String, u16)>,
) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let rules = Arc::new(Mutex::new(rules));
    let injected = Arc::new(Mutex::new(Vec::new()));
    let inj = injected.clone();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (rules, inj) = (rules.clone(), inj.clone());
            thread::spawn(move || {
                let mut client = BufReader::new(conn);
                loop {
                    let mut head = Vec::new();
                    loop {
                        let mut line = String::new();
                        if client.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let end = line == "\r\n";
                        if !line.to_ascii_lowercase().starts_with("connection:") {
                            head.push(line);
                        }
                        if end {
                            break;
                        }
                    }
                    let len: usize = head
                        .iter()
                        .find_map(|h| {
                            let (k, v) = h.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    let mut body = vec![0u8; len];
                    client.read_exact(&mut body).unwrap();
                    let first = head[0].clone();
                    let hit = {
                        let mut r = rules.lock().unwrap();
                        let i = r.iter().position(|(m, p, _)| {
                            first.starts_with(m) && first.contains(p.as_str())
                        });
                        i.map(|i| r.remove(i))
                    };
                    let out = client.get_mut();
                    if let Some((_, _, status)) = hit {
                        inj.lock()
                            .unwrap()
                            .push(format!("{status} {}", first.trim()));
                        let b = r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"injected"}]}"#;
                        let _ = write!(out, "HTTP/1.1 {status} Injected\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len());
                        continue;
                    }
                    let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                    let last = head.len() - 1;
                    head.insert(last, "Connection: close\r\n".into());
                    up.write_all(head.concat().as_bytes()).unwrap();
                    up.write_all(&body).unwrap();
                    let mut resp = Vec::new();
                    let _ = up.read_to_end(&mut resp);
                    // Keep the client connection usable: drop the upstream's close.
                    let text = String::from_utf8_lossy(&resp);
                    let resp = match text.find("\r\n\r\n") {
                        Some(i) => {
                            let (h, _) = resp.split_at(i);
                            let h: String = String::from_utf8_lossy(h)
                                .split("\r\n")
                                .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                                .collect::<Vec<_>>()
                                .join("\r\n");
                            [h.as_bytes(), &resp[i..]].concat()
                        }
                        None => resp,
                    };
                    if out.write_all(&resp).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, injected)
}

#[test]
fn rate_limits_and_server_errors_are_retried() {
    if !tools() {
        return;
    }
    let reg = Registry::start("");
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut l = Layout::new(&t.join("img"));
    let big = layer(&[("x.bin", &[7u8; 100_000], 0o644)]);
    let img = l.image("amd64", &[base_layer(), big.clone()]);
    l.add(img.clone(), "1");
    let big_digest = sha256(&big.0);
    let (port, injected) = fault_proxy(
        reg.port,
        vec![
            ("PUT", "/manifests/1".to_string(), 429),
            ("PUT", big_digest[7..].to_string(), 503),
            ("HEAD", "/blobs/".to_string(), 502),
        ],
    );
    let before = reg.log_len();
    let out = isolated(
        &[
            "push",
            &format!("oci:{}", t.join("img").display()),
            "--to",
            &format!("127.0.0.1:{port}/x/flaky:1"),
            "--json",
            "--registry-retries",
            "3",
        ],
        &[("SPARKIMG_RETRY_BASE_MS", "10")],
        None,
    );
    let v = out.json();
    assert_eq!(v["pushed"][0]["digest"], img["digest"]);
    // Every injected answer says `Retry-After: 1`, which wins over the 10 ms backoff.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let waits: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("retrying in"))
        .collect();
    assert_eq!(waits.len(), 3, "{stderr}");
    assert!(
        waits.iter().all(|l| l.ends_with("retrying in 1.0s")),
        "{stderr}"
    );
    assert_eq!(
        injected.lock().unwrap().len(),
        3,
        "{:?}",
        injected.lock().unwrap()
    );
    // The failed upload restarted from a new session (a second POST), not the old one.
    let reqs = reg.requests(before);
    let posts = reqs
        .iter()
        .filter(|(m, u, _)| m == "POST" && u.contains("/x/flaky/blobs/uploads/"))
        .count();
    assert_eq!(posts, 4, "{reqs:?}"); // 3 blobs, one of them twice
    let raw = common::skopeo_raw(
        &format!("{}/x/flaky:1", reg.host()),
        &["--tls-verify=false"],
    );
    assert_eq!(sha256(&raw), img["digest"].as_str().unwrap());
}

/// `sparkimg push` killed with SIGKILL at 20 points over an uninterrupted push's
/// duration: whenever the tag exists it serves every blob it refers to (skopeo copies
/// the image), and a rerun completes with the layout's digest.
#[test]
fn push_killed_anywhere_never_tags_missing_blobs_and_reruns() {
    if !tools() {
        return;
    }
    let reg = Registry::start("");
    let host = reg.host();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut layers = vec![base_layer()];
    for i in 0..5u64 {
        layers.push(layer(&[(
            &format!("l{i}.bin"),
            &common::noise(2 << 20, i),
            0o644,
        )]));
    }
    let mut l = Layout::new(&t.join("img"));
    let img = l.image("amd64", &layers);
    l.add(img.clone(), "1");
    let src = format!("oci:{}", t.join("img").display());
    let push = |repo: &str, cache: &Path| {
        Sparkimg::new()
            .args([
                "push",
                &src,
                "--to",
                &format!("{host}/{repo}:1"),
                "--json",
                "--cache-dir",
            ])
            .arg(cache)
            .env("HOME", "/nonexistent")
            .env("SPARKIMG_RETRY_BASE_MS", "200")
            .command()
    };
    // Each calibration run pushes to a repository and a cache of its own, as the
    // killed runs do.
    let calibration: Vec<Duration> = (0..3)
        .map(|n| {
            let t0 = Instant::now();
            push(&format!("kill/reference{n}"), &t.join(format!("c-ref{n}")))
                .output()
                .unwrap()
                .ok();
            t0.elapsed()
        })
        .collect();
    let mut clock = common::KillClock::new(&calibration, 20);
    let mut tagged_early = 0;
    for i in 1..=20u32 {
        let repo = format!("kill/p{i}");
        let cache = t.join(format!("c{i}"));
        let mut child = push(&repo, &cache).spawn().unwrap();
        thread::sleep(clock.at(i));
        clock.record(child.try_wait().unwrap().is_none());
        child.kill().unwrap();
        child.wait().unwrap();
        let copy = Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{host}/{repo}:1"))
            .arg(format!("dir:{}", t.join(format!("copy{i}")).display()))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&copy.stderr);
        if copy.status.success() {
            tagged_early += 1;
        } else {
            // No tag at all is fine; a tag with missing blobs is not.
            assert!(
                err.contains("manifest unknown") || err.contains("not found"),
                "after a kill at point {i} the tag is broken: {err}"
            );
        }
        let v = push(&repo, &cache).output().unwrap().json();
        assert_eq!(v["pushed"][0]["digest"], img["digest"], "point {i}");
        let raw = common::skopeo_raw(&format!("{host}/{repo}:1"), &["--tls-verify=false"]);
        assert_eq!(sha256(&raw), img["digest"].as_str().unwrap());
    }
    let landed = clock.landed;
    eprintln!(
        "push: {landed} of 20 kills landed mid-run ({tagged_early} after the tag was written; \
         uninterrupted pushes {calibration:?})"
    );
    assert!(landed >= 15, "only {landed} kills landed mid-run");
}

// ---- the cache's per-layer and per-blob locks, held by another real process ----

/// A `flock(1)` process holding `lock` until its stdin closes: another process, as a
/// second sparkimg would be, that `/proc/locks` names.
struct Holder(Child);

impl Holder {
    fn hold(lock: &Path) -> Holder {
        fs::create_dir_all(lock.parent().unwrap()).unwrap();
        let child = Command::new("flock")
            .arg(lock)
            .arg("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start flock");
        let t = Instant::now();
        // Held once a non-blocking attempt fails.
        while Command::new("flock")
            .arg("-n")
            .arg(lock)
            .arg("true")
            .status()
            .unwrap()
            .success()
        {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "flock never took {}",
                lock.display()
            );
            thread::sleep(Duration::from_millis(20));
        }
        Holder(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Close its stdin: `cat` ends, `flock` exits, the lock is free.
    fn release(mut self) {
        drop(self.0.stdin.take());
        self.0.wait().unwrap();
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sparkimg ARGS` in the background, its stderr in the file `err`.
fn spawn_sparkimg(args: &[String], err: &Path) -> Child {
    Sparkimg::new()
        .args(args)
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env("HOME", "/nonexistent")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CONFIG_HOME")
        .command()
        .stderr(fs::File::create(err).unwrap())
        .spawn()
        .unwrap()
}

/// Until `child` says on stderr (the file `err`) that it waits for `what`.
fn await_waiting(child: &mut Child, err: &Path, what: &str) {
    let t = Instant::now();
    loop {
        let text = fs::read_to_string(err).unwrap_or_default();
        if text.contains(what) {
            return;
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!("sparkimg ended ({st}) before waiting for {what}: {text}");
        }
        // Generous: only a hang fails here, not a slow machine.
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "never waited for {what}: {text}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// The JSON report of a background `sparkimg` that must succeed.
fn finished(child: Child, err: &Path) -> Value {
    let out = child.wait_with_output().unwrap();
    let text = fs::read_to_string(err).unwrap_or_default();
    assert!(out.status.success(), "sparkimg failed: {text}");
    out.json()
}

/// A build given up on a held lock: exit 1, the wait and its holder named on stderr.
fn assert_gave_up(out: &Output, what: &str, holder: &Holder) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_exit(out, exit::OTHER);
    assert!(err.contains(&format!("waiting for {what}")), "{err}");
    let who = format!("held by pid {} (flock ", holder.pid());
    assert!(err.contains(&who), "{err}");
    assert!(
        err.contains("error: timed out after 1s") && err.contains("hint:"),
        "{err}"
    );
}

/// The per-layer build locks (`build/locks/`): a build waiting for a layer another
/// process is building names that process and gives up after `--lock-timeout`; with
/// time enough it goes on once the lock is free, to the same image.
#[test]
fn layer_locks_honour_lock_timeout_and_name_the_holder() {
    if !need("flock") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut base = Layout::new(&t.join("base"));
    let img = base.image("amd64", &[base_layer()]);
    base.add(img, "1");
    let (home, ep) = build_inputs(t);
    let base_ref = format!("oci:{}", t.join("base").display());
    let args = |out: &str, timeout: &str| {
        let mut a = build_args(t, &home, &ep, &base_ref);
        a.extend([
            "--name".into(),
            "local/spark:1".into(),
            "--output".into(),
            format!("oci:{}", t.join(out).display()),
            "--lock-timeout".into(),
            timeout.into(),
        ]);
        a
    };
    let first = isolated(&strs(&args("o1", "10m")), &[], None).json();
    let digest = first["images"][0]["manifest_digest"].clone();
    assert!(digest.is_string(), "{first}");
    // Forget the built layers (the blobs stay): the next build locks each to build it.
    fs::remove_dir_all(t.join("cache/build/layers")).unwrap();
    let mut locks: Vec<PathBuf> = fs::read_dir(t.join("cache/build/locks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    locks.sort();
    assert!(!locks.is_empty(), "no layer locks in build/locks");
    let holder = Holder::hold(&locks[0]);

    let t0 = Instant::now();
    let out = isolated(&strs(&args("o2", "1s")), &[], None);
    assert_gave_up(&out, "another sparkimg process building layer", &holder);
    assert!(t0.elapsed() >= Duration::from_secs(1));

    let err = t.join("o3.err");
    let mut child = spawn_sparkimg(&args("o3", "10m"), &err);
    await_waiting(&mut child, &err, "building layer");
    holder.release();
    let v = finished(child, &err);
    assert_eq!(v["images"][0]["manifest_digest"], digest, "{v}");
}

/// Two builds pulling the same base blob into one cache: one downloads it, the other
/// waits for it (so no `.partial` is written by two processes) and then finds it in
/// place; both give the same image. Waiting on a blob lock honours `--lock-timeout`.
#[test]
fn concurrent_pulls_of_one_blob_download_it_once() {
    if !tools() || !need("flock") {
        return;
    }
    let reg = Registry::start("");
    let host = reg.host();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let big = layer(&[("noise.bin", &common::noise(4 << 20, 20), 0o644)]);
    let mut l = Layout::new(&t.join("img"));
    let img = l.image("amd64", &[base_layer(), big.clone()]);
    l.add(img, "1");
    isolated(
        &[
            "push",
            &format!("oci:{}", t.join("img").display()),
            "--to",
            &format!("{host}/x/shared:1"),
        ],
        &[],
        None,
    )
    .ok();
    let digest = sha256(&big.0);
    let hex = &digest[7..];
    let cache = t.join("cache");
    // As a process pulling it would hold it.
    let holder = Holder::hold(&cache.join(format!("registry/locks/sha256-{hex}.lock")));
    let (home, ep) = build_inputs(t);
    let base_ref = format!("{host}/x/shared:1");
    let args = |out: &str, timeout: &str| {
        let mut a = build_args(t, &home, &ep, &base_ref);
        a.extend([
            "--name".into(),
            "local/spark:1".into(),
            "--output".into(),
            format!("oci:{}", t.join(out).display()),
            "--lock-timeout".into(),
            timeout.into(),
        ]);
        a
    };
    let what = format!("another sparkimg process pulling blob {}", &hex[..12]);
    let out = isolated(&strs(&args("o0", "1s")), &[], None);
    assert_gave_up(&out, &what, &holder);

    let before = reg.log_len();
    let (ea, eb) = (t.join("a.err"), t.join("b.err"));
    let mut a = spawn_sparkimg(&args("oa", "10m"), &ea);
    let mut b = spawn_sparkimg(&args("ob", "10m"), &eb);
    await_waiting(&mut a, &ea, &what);
    await_waiting(&mut b, &eb, &what);
    holder.release();
    let (va, vb) = (finished(a, &ea), finished(b, &eb));
    assert!(va["images"][0]["manifest_digest"].is_string(), "{va}");
    assert_eq!(
        va["images"][0]["manifest_digest"],
        vb["images"][0]["manifest_digest"]
    );
    let gets: Vec<_> = reg
        .requests(before)
        .into_iter()
        .filter(|(m, u, _)| m == "GET" && u.ends_with(&digest))
        .collect();
    assert_eq!(
        gets.len(),
        1,
        "the blob was downloaded more than once: {gets:?}"
    );
    assert_eq!(gets[0].2, 200, "{gets:?}");
    let blobs = cache.join("registry/blobs/sha256");
    assert_eq!(sha256(&fs::read(blobs.join(hex)).unwrap()), digest);
    let partial: Vec<_> = fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| !n.to_string_lossy().chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    assert!(partial.is_empty(), "left in the blob cache: {partial:?}");
}

/// Registry mirrors: a base pushed only to a loopback "mirror" is built on under its
/// Docker Hub name (which does not resolve here) through `--registry-mirror`, a
/// registries.conf found in `$XDG_CONFIG_HOME` and a containerd hosts.toml, with the
/// same image digest each way and no retry delay; a mirror that is down is skipped at
/// once; a mirror serving other bytes for a digest is refused, not fallen through.
#[test]
fn pulls_go_through_mirrors_in_order_and_digests_still_bind() {
    if !tools() {
        return;
    }
    let reg = Registry::start("");
    let host = reg.host();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut base = Layout::new(&t.join("base"));
    let img = base.image("amd64", &[base_layer()]);
    base.add(img, "1");
    let pushed = isolated(
        &[
            "push",
            &format!("oci:{}", t.join("base").display()),
            "--to",
            &format!("{host}/hub/library/sparkbase:1"),
            "--cache-dir",
            &t.join("push-cache").display().to_string(),
            "--json",
        ],
        &[],
        None,
    )
    .json();
    let base_digest = pushed["pushed"][0]["digest"].as_str().unwrap().to_string();
    // Nothing listens on `down`: the first mirror is down.
    let down = format!("127.0.0.1:{}", free_port());
    let (home, ep) = build_inputs(t);
    let build = |n: &str, extra: &[String], envs: &[(&str, &str)]| {
        mirror_build((t, &home, &ep), n, extra, envs)
    };
    let flags = [
        format!("--registry-mirror=docker.io=http://{down}"),
        format!("--registry-mirror=docker.io={host}/hub"),
    ]
    .map(String::from);
    let (out, took) = build("flag", &flags, &[]);
    let v = out.json();
    assert_eq!(
        v["base"],
        json!("docker.io/library/sparkbase:1"),
        "{}",
        out.stderr_text()
    );
    let image_digest = v["images"][0]["manifest_digest"].clone();
    let err = out.stderr_text();
    assert!(
        err.contains(&format!("{down}/library/sparkbase"))
            && err.contains("trying the next endpoint"),
        "{err}"
    );
    assert!(
        err.contains(&format!("via mirror {host}/hub/library/sparkbase")),
        "{err}"
    );
    // No retry delay: the refused mirror is skipped at once, docker.io never asked.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let pulled: Vec<_> = reg
        .requests(0)
        .into_iter()
        .filter(|r| r.1.contains("/manifests/"))
        .collect();
    assert!(
        pulled
            .iter()
            .any(|r| r.1 == "/v2/hub/library/sparkbase/manifests/1" && r.2 == 200),
        "{pulled:?}"
    );

    check_mirror_files((t, &home, &ep), &host, &down, &image_digest);
    refuse_lying_mirror_and_air_gap((t, &home, &ep), &host, &base_digest);
}

/// The same build, its mirrors read from registries.conf (at its default user path)
/// and from a containerd hosts.toml: the same image.
fn check_mirror_files(
    (t, home, ep): (&Path, &Path, &Path),
    host: &str,
    down: &str,
    image_digest: &Value,
) {
    let build = |n: &str, extra: &[String], envs: &[(&str, &str)]| {
        mirror_build((t, home, ep), n, extra, envs)
    };
    let xdg = t.join("xdg");
    fs::create_dir_all(xdg.join("containers")).unwrap();
    fs::write(
        xdg.join("containers/registries.conf"),
        format!("[[registry]]\nprefix = \"docker.io/library\"\n[[registry.mirror]]\nlocation = \"{down}\"\n[[registry.mirror]]\nlocation = \"{host}/hub/library\"\n"),
    )
    .unwrap();
    let (out, _) = build("conf", &[], &[("XDG_CONFIG_HOME", xdg.to_str().unwrap())]);
    assert_eq!(
        out.json()["images"][0]["manifest_digest"],
        *image_digest,
        "{}",
        out.stderr_text()
    );
    let hosts = t.join("certs.d");
    fs::create_dir_all(hosts.join("docker.io")).unwrap();
    fs::write(
        hosts.join("docker.io/hosts.toml"),
        format!("[host.\"http://{host}/v2/hub\"]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n"),
    )
    .unwrap();
    let hosts_flag = format!("--registry-hosts-dir={}", hosts.display());
    let (out, _) = build("hosts", std::slice::from_ref(&hosts_flag), &[]);
    assert_eq!(
        out.json()["images"][0]["manifest_digest"],
        *image_digest,
        "{}",
        out.stderr_text()
    );
}

/// A lying mirror first, for the base by digest: refused (exit 9), naming it, although
/// the next mirror holds the real bytes. An air gap with no mirror for a registry:
/// refused at once.
fn refuse_lying_mirror_and_air_gap(
    (t, home, ep): (&Path, &Path, &Path),
    host: &str,
    base_digest: &str,
) {
    let liar = common::Server::start();
    liar.put("/v2/", b"{}".to_vec());
    let other =
        json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"});
    liar.put(
        &format!("/v2/hub/library/sparkbase/manifests/{base_digest}"),
        other.to_string().into_bytes(),
    );
    let by_digest = format!("docker.io/library/sparkbase@{base_digest}");
    let mut args = build_args(t, home, ep, &by_digest);
    args.extend([
        format!("--registry-mirror=docker.io=http://{}/hub", liar.addr),
        format!("--registry-mirror=docker.io={host}/hub"),
        "--registry-mirrors-only".into(),
        "--name".into(),
        "local/spark:1".into(),
        "--output".into(),
        format!("oci:{}", t.join("out-liar").display()),
    ]);
    let out = isolated(&strs(&args), &[], None);
    assert_exit(&out, exit::REGISTRY);
    let err = out.stderr_text();
    assert!(
        err.contains(&format!(
            "{}/hub/library/sparkbase: manifest: content is sha256:",
            liar.addr
        )),
        "{err}"
    );
    assert!(!t.join("out-liar").exists());

    // An air gap with no mirror for the registry: refused at once, naming why.
    let mut args = build_args(t, home, ep, "quay.io/x/base:1");
    args.extend([
        "--registry-mirrors-only".into(),
        "--name".into(),
        "local/spark:1".into(),
    ]);
    args.extend([
        "--output".into(),
        format!("oci:{}", t.join("out-gap").display()),
    ]);
    let out = isolated(&strs(&args), &[], None);
    assert_exit(&out, exit::REGISTRY);
    assert!(
        out.stderr_text()
            .contains("quay.io/x/base:1: no endpoint may serve it (--registry-mirrors-only"),
        "{}",
        out.stderr_text()
    );
}

/// `build` on `docker.io/library/sparkbase:1` with its own cache and output (`n`), the
/// default backoff (a retried refusal or DNS failure would take seconds) and nothing
/// of this machine's credentials; how long it took.
fn mirror_build(
    (t, home, ep): (&Path, &Path, &Path),
    n: &str,
    extra: &[String],
    envs: &[(&str, &str)],
) -> (Output, Duration) {
    let mut args = build_args(t, home, ep, "docker.io/library/sparkbase:1");
    let at = args.iter().position(|a| a == "--cache-dir").unwrap() + 1;
    args[at] = t.join(format!("cache-{n}")).display().to_string();
    args.extend([
        "--name".into(),
        "local/spark:1".into(),
        "--output".into(),
        format!("oci:{}", t.join(format!("out-{n}")).display()),
    ]);
    args.extend(extra.iter().cloned());
    let started = Instant::now();
    // The default backoff: a retried refusal or DNS failure would take seconds.
    let out = Sparkimg::new()
        .args(strs(&args))
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env("HOME", "/nonexistent")
        .env_remove("XDG_CONFIG_HOME")
        .envs(envs)
        .run();
    (out, started.elapsed())
}

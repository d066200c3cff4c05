//! Issue 27: an image's bytes depend only on content. Two "hosts" (two directories at
//! different paths) build the same inputs: the same distribution bytes from two loopback
//! mirrors on different ports, the same base tarball at two paths, two caches, working
//! directories and homes, another umask, TZ, LANG and thread count. Every blob and
//! index.json must be identical, and no path, port or mirror may appear in them.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sparkimg::exit;

use crate::build::{base_rootfs, blob_json, entrypoint, tree_bytes};
use crate::common::{assert_exit, sha512sum_line, spark_tgz, Ran, Server, Sparkimg};
use crate::rebase::{oci_base, same_layout};
use crate::sign::keygen;

const VERSION: &str = "3.5.3";
const FILE: &str = "spark-3.5.3-bin-hadoop3.tgz";
const CANONICAL: &str =
    "https://archive.apache.org/dist/spark/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz";

/// One build host: its own directory (so paths differ), mirror and environment.
struct Host {
    root: PathBuf,
    mirror: Server,
    prefix: &'static str,
    umask: &'static str,
    env: [(&'static str, &'static str); 3],
}

impl Host {
    fn new(
        root: PathBuf,
        prefix: &'static str,
        umask: &'static str,
        env: [(&'static str, &'static str); 3],
    ) -> Host {
        let tgz = spark_tgz(VERSION, "hadoop3");
        let mirror = Server::start();
        mirror.put(&format!("/{prefix}/spark-{VERSION}/{FILE}"), tgz.clone());
        mirror.put(
            &format!("/{prefix}/spark-{VERSION}/{FILE}.sha512"),
            sha512sum_line(&tgz, FILE),
        );
        for d in ["base", "cache", "work", "home", "dist"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::write(root.join("dist").join(FILE), &tgz).unwrap();
        let sidecar = root.join("dist").join(format!("{FILE}.sha512"));
        fs::write(sidecar, sha512sum_line(&tgz, FILE)).unwrap();
        base_rootfs(&root.join("base/rootfs.tar.gz"), true);
        // The same rootfs as a one-layer `oci:` layout, its image named `base`.
        let mut raw = Vec::new();
        let gz = fs::File::open(root.join("base/rootfs.tar.gz")).unwrap();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut raw)
            .unwrap();
        oci_base(
            &root.join("base/oci"),
            &[("amd64", vec![raw], vec!["LANG=C"])],
        );
        // Where a checkout keeps it: found under the working directory, as in a clone.
        let ep = root.join("work/target/dist/spark-entrypoint");
        fs::create_dir_all(ep.parent().unwrap()).unwrap();
        fs::copy(entrypoint(), ep).unwrap();
        Host {
            root,
            mirror,
            prefix,
            umask,
            env,
        }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// `sparkimg build` here: this host's cache, working directory (with its entrypoint
    /// copy), home, umask and environment, the one epoch of both hosts.
    fn build(&self, args: &[&str]) -> Value {
        Sparkimg::with_umask(self.umask)
            .args(["build", "--json", "-r", "example.com/x", "-t", VERSION])
            .args(["--sbom=both", "--cache-dir"])
            .arg(self.p("cache"))
            .args(args)
            .current_dir(self.p("work"))
            .env("HOME", self.p("home"))
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .envs(&self.env)
            .json()
    }

    /// A build from this host's mirror on this host's copy of the rootfs base.
    fn build_release(&self, out: &str) -> Value {
        let mirror = self.mirror.url(self.prefix);
        self.build(&[
            "--spark-version",
            VERSION,
            "--no-default-mirrors",
            &format!("--mirror={mirror}"),
            &format!("--base=rootfs:{}", self.p("base/rootfs.tar.gz").display()),
            &format!("--output=oci:{}", self.p(out).display()),
        ])
    }
}

/// Every blob's text that holds JSON: configs, manifests, indexes and SBOMs.
fn json_blobs(layout: &Path) -> Vec<Value> {
    tree_bytes(layout)
        .into_iter()
        .filter_map(|(_, b)| serde_json::from_slice(&b).ok())
        .collect()
}

/// Nothing of the host in a layout's documents: no path of it, no mirror, no port.
fn assert_no_host(layout: &Path, host: &Host) {
    let port = format!(":{}", host.mirror.addr.port());
    let root = host.root.display().to_string();
    for (name, bytes) in tree_bytes(layout) {
        let text = String::from_utf8_lossy(&bytes);
        for needle in [root.as_str(), "127.0.0.1", port.as_str(), "/tmp/"] {
            assert!(!text.contains(needle), "{name} holds {needle}: {text}");
        }
    }
}

/// The SPDX documents of a layout, each checked by the SPDX project's own validator
/// (spdx-tools rejects a download location on an address or `localhost`); returns the
/// Spark package's download location in each.
fn spark_download(layout: &Path) -> Vec<String> {
    let docs: Vec<Value> = json_blobs(layout)
        .into_iter()
        .filter(|d| d["spdxVersion"].is_string())
        .collect();
    if let Some(venv) = crate::sbom::venv() {
        let dir = tempfile::tempdir().unwrap();
        for (i, doc) in docs.iter().enumerate() {
            let file = dir.path().join(format!("{i}.spdx.json"));
            fs::write(&file, doc.to_string()).unwrap();
            let o = Command::new(venv.join("bin/pyspdxtools"))
                .arg("-i")
                .arg(&file)
                .output()
                .unwrap();
            let said = format!("{}{}", o.stdout_text(), o.stderr_text());
            assert!(o.status.success(), "invalid SPDX: {said}");
        }
    }
    docs.iter()
        .flat_map(|d| d["packages"].as_array().unwrap().clone())
        .filter(|p| p["name"] == "apache-spark")
        .map(|p| p["downloadLocation"].as_str().unwrap().to_string())
        .collect()
}

/// The config labels of the layout's one image.
fn labels(layout: &Path, report: &Value) -> Value {
    let m = blob_json(
        layout,
        report["images"][0]["manifest_digest"].as_str().unwrap(),
    );
    let c = blob_json(layout, m["config"]["digest"].as_str().unwrap());
    c["config"]["Labels"].clone()
}

#[test]
fn same_inputs_anywhere_give_the_same_bytes() {
    let (ta, tb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Host::new(
        ta.path().join("ci-runner-1"),
        "spark",
        "022",
        [("TZ", "UTC"), ("LANG", "C"), ("SPARKIMG_THREADS", "1")],
    );
    let b = Host::new(
        tb.path().join("elsewhere/deeper/runner-2"),
        "apache/mirror/spark",
        "077",
        [
            ("TZ", "Asia/Shanghai"),
            ("LANG", "de_DE.UTF-8"),
            ("SPARKIMG_THREADS", "3"),
        ],
    );
    assert_ne!(a.mirror.addr.port(), b.mirror.addr.port());

    // A fetched release on a rootfs base.
    let (ra, rb) = (a.build_release("out"), b.build_release("out"));
    same_layout(&a.p("out"), &b.p("out"));
    assert_eq!(ra["images"], rb["images"]);
    assert_no_host(&a.p("out"), &a);
    assert_no_host(&b.p("out"), &b);
    let l = labels(&a.p("out"), &ra);
    assert_eq!(l["org.opencontainers.image.source"], CANONICAL, "{l:#}");
    assert_eq!(
        l["dev.sparkimg.spark.sha512"].as_str().map(str::len),
        Some(128)
    );
    let base = l["org.opencontainers.image.base.name"].as_str().unwrap();
    assert!(base.starts_with("rootfs@sha256:"), "{base}");
    assert_eq!(spark_download(&a.p("out")), [CANONICAL]);

    // A `--dist` file at two paths, on an `oci:` layout at two paths, its image selected
    // by its ref name.
    let stacked = |h: &Host| {
        h.build(&[
            &format!("--dist={}", h.p("dist").join(FILE).display()),
            &format!("--base=oci:{}:base", h.p("base/oci").display()),
            &format!("--output=oci:{}", h.p("stacked").display()),
        ])
    };
    let (sa, sb) = (stacked(&a), stacked(&b));
    same_layout(&a.p("stacked"), &b.p("stacked"));
    assert_eq!(sa["images"], sb["images"]);
    assert_no_host(&a.p("stacked"), &a);
    let l = labels(&a.p("stacked"), &sa);
    assert!(l.get("org.opencontainers.image.source").is_none(), "{l:#}");
    let index: Value =
        serde_json::from_slice(&fs::read(a.p("base/oci/index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    assert_eq!(
        l["org.opencontainers.image.base.name"],
        format!("oci:base@{digest}")
    );
    assert_eq!(l["org.opencontainers.image.base.digest"], digest);
    assert_eq!(spark_download(&a.p("stacked")), ["NOASSERTION"]);
}

/// `sparkimg verify` on host `h`, from its working directory, home and cache, with
/// `--rebuild` and `sources` after `--`.
fn verify_rebuild(h: &Host, image: &Path, public: &Path, sources: &[&str]) -> Output {
    Sparkimg::new()
        .arg("verify")
        .arg(format!("oci:{}", image.display()))
        .arg("--key")
        .arg(public)
        .args(["--json", "--rebuild", "--", "--cache-dir"])
        .arg(h.p("cache"))
        .args(sources)
        .current_dir(h.p("work"))
        .env("HOME", h.p("home"))
        .envs(&h.env)
        .env_remove("SOURCE_DATE_EPOCH")
        .run()
}

/// Issue 27 item 4: an image built, signed and attested on one host is rebuilt on
/// another from its provenance (the release from that host's mirror, its copy of the
/// base) to the same digest; a different base is named as the input that differs.
#[test]
fn verify_rebuild_reproduces_an_image_built_elsewhere() {
    let (ta, tb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Host::new(
        ta.path().join("builder"),
        "spark",
        "022",
        [("TZ", "UTC"), ("LANG", "C"), ("SPARKIMG_THREADS", "1")],
    );
    let b = Host::new(
        tb.path().join("auditor/elsewhere"),
        "apache/mirror/spark",
        "077",
        [
            ("TZ", "Asia/Shanghai"),
            ("LANG", "de_DE.UTF-8"),
            ("SPARKIMG_THREADS", "2"),
        ],
    );
    let (key, public) = keygen(&a.p("signer"), None);
    let mirror = a.mirror.url(a.prefix);
    let built = a.build(&[
        "--spark-version",
        VERSION,
        "--no-default-mirrors",
        &format!("--mirror={mirror}"),
        &format!("--base=rootfs:{}", a.p("base/rootfs.tar.gz").display()),
        &format!("--output=oci:{}", a.p("out").display()),
        &format!("--sign-key={}", key.display()),
        "--provenance",
    ]);
    let digest = built["images"][0]["manifest_digest"].as_str().unwrap();
    let their_mirror = format!("--mirror={}", b.mirror.url(b.prefix));
    let their_base = format!("--base=rootfs:{}", b.p("base/rootfs.tar.gz").display());
    let ok = verify_rebuild(
        &b,
        &a.p("out"),
        &public,
        &["--no-default-mirrors", &their_mirror, &their_base],
    );
    let v = ok.json();
    assert_eq!(v["verified"], true, "{v:#}\n{}", ok.stderr_text());
    let checks = v["checks"].as_array().unwrap();
    let rebuild = checks.iter().find(|c| c["check"] == "rebuild").unwrap();
    assert!(
        rebuild["detail"].as_str().unwrap().contains(digest),
        "{v:#}"
    );
    let inputs = checks.iter().filter(|c| c["check"] == "input").count();
    assert!(
        inputs >= 2,
        "the distribution and the base are checked: {v:#}"
    );

    // Another base (the same rootfs and one file more) is named as the input that differs.
    let other = b.p("base/other.tar.gz");
    one_file_more(&b.p("base/rootfs.tar.gz"), &other);
    let wrong = format!("--base=rootfs:{}", other.display());
    let o = verify_rebuild(
        &b,
        &a.p("out"),
        &public,
        &["--no-default-mirrors", &their_mirror, &wrong],
    );
    assert_exit(&o, exit::VERIFICATION);
    let v: Value = serde_json::from_str(&o.stdout_text()).unwrap();
    let failed: Vec<&Value> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .collect();
    assert_eq!(failed[0]["check"], "input", "{v:#}");
    assert!(
        failed[0]["detail"]
            .as_str()
            .unwrap()
            .contains("rootfs differs"),
        "{v:#}"
    );
    assert!(o.stderr_text().contains("hint:"), "{}", o.stderr_text());
}

/// The rootfs tarball `from` with one more file, as `to`.
fn one_file_more(from: &Path, to: &Path) {
    let gz = flate2::read::GzDecoder::new(fs::File::open(from).unwrap());
    let mut archive = tar::Archive::new(gz);
    let out =
        flate2::write::GzEncoder::new(fs::File::create(to).unwrap(), flate2::Compression::fast());
    let mut b = tar::Builder::new(out);
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header().clone();
        b.append(&h, &mut e).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "etc/changed", &b"yes"[..]).unwrap();
    b.into_inner().unwrap().finish().unwrap();
}

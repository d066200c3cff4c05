//! `sparkimg build` end to end, validated with real tools: skopeo, umoci and the Docker
//! Engine. Each tool-dependent check is skipped with its reason (`common::skip`, counted
//! by `cargo xtask test`) when the tool is missing, except under CI=true, where it fails.
//!
//! Inputs are generated: a small fake Spark distribution and a base rootfs tarball that
//! holds the host's TZif files, a fake JVM (`/usr/lib/jvm/.../bin/java`), and the host's
//! static busybox (Debian `busybox-static`) so the Docker tests can run a shell and the
//! real static entrypoint inside the image.
//!
//! The entrypoint binary: `target/dist/spark-entrypoint` when `cargo xtask dist` made it,
//! else the harness builds it once, statically (`--profile dist`, `+crt-static`), into
//! `target/sparkimg-test-entrypoint/`. A dynamically linked debug build would not run in
//! a busybox base, so no other fallback exists. When the real fixtures exist
//! (`target/fixtures/dist/...`), other tests can point `--spark-home` at them the same way.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

use crate::common;
use crate::common::{assert_exit, need, need_docker_engine, Ran, Sparkimg};
use sparkimg::exit;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub(crate) fn entrypoint() -> PathBuf {
    static EP: OnceLock<PathBuf> = OnceLock::new();
    EP.get_or_init(|| {
        let dist = workspace().join("target/dist/spark-entrypoint");
        if dist.is_file() {
            return dist;
        }
        let target_dir = workspace().join("target/sparkimg-test-entrypoint");
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "spark-entrypoint", "--profile", "dist"])
            .args(["--target", "x86_64-unknown-linux-gnu", "--target-dir"])
            .arg(&target_dir)
            .env(
                "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
                "-C target-feature=+crt-static",
            )
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the static entrypoint failed");
        target_dir.join("x86_64-unknown-linux-gnu/dist/spark-entrypoint")
    })
    .clone()
}

pub(crate) fn write(path: &Path, bytes: &[u8], mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A tiny distribution with the shape of a real one.
fn fake_dist(home: &Path) {
    let files: &[(&str, &[u8], u32)] = &[
        ("jars/spark-core_2.12-3.5.3.jar", b"PK core", 0o644),
        ("jars/spark-kubernetes_2.12-3.5.3.jar", b"PK k8s", 0o644),
        ("jars/scala-library-2.12.18.jar", b"PK scala", 0o644),
        ("jars/other.jar", b"PK other", 0o644),
        ("bin/spark-submit", b"#!/bin/sh\necho submit\n", 0o755),
        ("bin/spark-class", b"#!/bin/sh\n", 0o755),
        ("sbin/start-master.sh", b"#!/bin/sh\n", 0o750),
        ("conf/spark-defaults.conf.template", b"# defaults\n", 0o600),
        ("python/pyspark/__init__.py", b"# pyspark\n", 0o644),
        ("python/lib/py4j-0.10.9.7-src.zip", b"PK py4j", 0o644),
        ("R/lib/SparkR/DESCRIPTION", b"Package: SparkR\n", 0o644),
        (
            "examples/jars/spark-examples_2.12-3.5.3.jar",
            b"PK ex",
            0o644,
        ),
        ("data/mllib/x.txt", b"1 2\n", 0o644),
        (
            "kubernetes/dockerfiles/spark/entrypoint.sh",
            b"#!/bin/bash\n",
            0o755,
        ),
        ("kubernetes/tests/py_container_checks.py", b"\n", 0o644),
        ("RELEASE", b"Spark 3.5.3 built for Hadoop 3.3.4\n", 0o644),
        ("LICENSE", b"Apache\n", 0o644),
    ];
    for (p, b, m) in files {
        write(&home.join(p), b, *m);
    }
    std::os::unix::fs::symlink(
        "spark-examples_2.12-3.5.3.jar",
        home.join("examples/jars/spark-examples.jar"),
    )
    .unwrap();
}

/// A base root filesystem tarball (gzip). `java: false` leaves the JVM out.
pub(crate) fn base_rootfs(path: &Path, java: bool) {
    let f = fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    let add = |b: &mut tar::Builder<_>, p: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, p, data).unwrap();
    };
    let link = |b: &mut tar::Builder<_>, p: &str, target: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, p, target).unwrap();
    };
    for d in [
        "bin",
        "etc",
        "tmp",
        "usr/share/zoneinfo/Etc",
        "usr/share/zoneinfo/Asia",
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(if d == "tmp" { 0o1777 } else { 0o755 });
        h.set_size(0);
        b.append_data(&mut h, format!("{d}/"), std::io::empty())
            .unwrap();
    }
    add(
        &mut b,
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n",
        0o644,
    );
    add(&mut b, "etc/group", b"root:x:0:\n", 0o644);
    let zi = Path::new("/usr/share/zoneinfo");
    add(
        &mut b,
        "usr/share/zoneinfo/Etc/UTC",
        &fs::read(zi.join("Etc/UTC")).unwrap(),
        0o644,
    );
    link(&mut b, "usr/share/zoneinfo/UTC", "Etc/UTC");
    add(
        &mut b,
        "usr/share/zoneinfo/Asia/Shanghai",
        &fs::read(zi.join("Asia/Shanghai")).unwrap(),
        0o644,
    );
    add(
        &mut b,
        "usr/share/zoneinfo/Asia/Singapore",
        &fs::read(zi.join("Asia/Singapore")).unwrap(),
        0o644,
    );
    if java {
        add(
            &mut b,
            "usr/lib/jvm/java-17-openjdk-amd64/bin/java",
            b"#!/bin/sh\necho java \"$@\"\n",
            0o755,
        );
    }
    // The runtimes of spark-py and spark-r, so those images need no OS packages.
    add(&mut b, "usr/bin/python3", b"#!/bin/sh\n", 0o755);
    add(&mut b, "usr/bin/R", b"#!/bin/sh\n", 0o755);
    if let Ok(bb) = fs::read("/bin/busybox") {
        add(&mut b, "bin/busybox", &bb, 0o755);
        for tool in ["sh", "ls", "cat", "stat", "echo", "id"] {
            link(&mut b, &format!("bin/{tool}"), "busybox");
        }
    }
    b.into_inner().unwrap().finish().unwrap();
}

pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        fake_dist(&dir.path().join("spark"));
        base_rootfs(&dir.path().join("base.tar.gz"), true);
        Fixture { dir }
    }
    pub(crate) fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    /// Run `sparkimg build` with the fixture's distribution, base, cache and entrypoint.
    pub(crate) fn build(&self, extra: &[&str], epoch: Option<&str>) -> Output {
        self.build_env(extra, epoch, &[])
    }
    pub(crate) fn build_env(
        &self,
        extra: &[&str],
        epoch: Option<&str>,
        env: &[(&str, &str)],
    ) -> Output {
        let mut run = self.command(extra).envs(env);
        if let Some(e) = epoch {
            run = run.env("SOURCE_DATE_EPOCH", e);
        }
        run.run()
    }
    /// The `sparkimg build` run of [`Fixture::build`], without an epoch.
    pub(crate) fn command(&self, extra: &[&str]) -> Sparkimg {
        Sparkimg::new()
            .arg("build")
            .arg("--spark-home")
            .arg(self.p("spark"))
            .args(
                (!extra.iter().any(|a| a.starts_with("--base")))
                    .then(|| format!("--base=rootfs:{}", self.p("base.tar.gz").display())),
            )
            .arg("--cache-dir")
            .arg(self.p("cache"))
            .arg("--entrypoint-binary")
            .arg(entrypoint())
            .args(extra)
            .current_dir(self.dir.path())
    }
    pub(crate) fn build_ok(&self, extra: &[&str]) -> Value {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        self.build(&args, None).json()
    }
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

pub(crate) fn tree_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).unwrap().display().to_string(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

const REPO: &str = "example.com/x";

#[test]
fn oci_layout_with_variants_unpacks_with_umoci() {
    let fx = Fixture::new();
    let out = fx.p("out");
    let rep = fx.build_ok(&[
        "-r",
        REPO,
        "-t",
        "3.5.3",
        "-p",
        "-R",
        "--timezone",
        "Asia/Shanghai",
        &format!("--output=oci:{}", out.display()),
    ]);
    let images = rep["images"].as_array().unwrap();
    let refs: Vec<&str> = images
        .iter()
        .map(|i| i["reference"].as_str().unwrap())
        .collect();
    assert_eq!(
        refs,
        [
            "example.com/x/spark:3.5.3",
            "example.com/x/spark-py:3.5.3",
            "example.com/x/spark-r:3.5.3"
        ]
    );
    assert_eq!(rep["layers_built"], 7, "{rep}");

    let index: Value = serde_json::from_slice(&fs::read(out.join("index.json")).unwrap()).unwrap();
    let ann = &index["manifests"][1]["annotations"];
    assert_eq!(
        ann["io.containerd.image.name"],
        "example.com/x/spark-py:3.5.3"
    );
    assert_eq!(
        ann["org.opencontainers.image.ref.name"],
        "example.com/x/spark-py:3.5.3"
    );

    if need("skopeo") {
        let j = run(Command::new("skopeo")
            .args(["inspect", "--config"])
            .arg(format!("oci:{}:example.com/x/spark:3.5.3", out.display())));
        let cfg: Value = serde_json::from_str(&j).unwrap();
        assert_eq!(cfg["config"]["Entrypoint"][0], "/opt/spark-entrypoint");
        assert_eq!(cfg["config"]["User"], "185");
        assert_eq!(cfg["config"]["WorkingDir"], "/opt/spark/work-dir");
        let env: Vec<&str> = cfg["config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            env.contains(&"JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64"),
            "{env:?}"
        );
        assert!(env.contains(&"TZ=Asia/Shanghai"));
        assert!(env.contains(&"SPARK_VERSION=3.5.3"));
        assert!(env
            .iter()
            .any(|e| e.starts_with("PATH=") && e.ends_with(":/opt/spark/bin")));
        // skopeo copies (and so verifies every digest) the layout to another layout.
        let copy = fx.p("copy");
        run(Command::new("skopeo")
            .args(["copy", "--quiet"])
            .arg(format!(
                "oci:{}:example.com/x/spark-py:3.5.3",
                out.display()
            ))
            .arg(format!("oci:{}:py", copy.display())));
    }

    if need("umoci") {
        check_unpacked_spark_py(&fx, &out);
    }
}

/// umoci's unpacking of the spark-py image in layout `out`: owners, modes, links, the
/// entrypoint, the time zone, /etc/passwd, and the base underneath.
fn check_unpacked_spark_py(fx: &Fixture, out: &Path) {
    let bundle = fx.p("bundle");
    run(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:example.com/x/spark-py:3.5.3", out.display()))
        .arg(&bundle));
    let root = bundle.join("rootfs");
    use std::os::unix::fs::MetadataExt;
    let md = |p: &str| fs::symlink_metadata(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let jar = md("opt/spark/jars/spark-core_2.12-3.5.3.jar");
    assert_eq!((jar.uid(), jar.gid(), jar.mode() & 0o7777), (185, 0, 0o644));
    assert_eq!(md("opt/spark/bin/spark-submit").mode() & 0o7777, 0o755);
    assert_eq!(md("opt/spark/sbin/start-master.sh").mode() & 0o7777, 0o755);
    assert_eq!(
        md("opt/spark/conf/spark-defaults.conf.template").mode() & 0o7777,
        0o644
    );
    assert_eq!(md("opt/spark/work-dir").mode() & 0o7777, 0o775);
    assert_eq!(md("opt/spark").uid(), 185);
    assert_eq!(md("etc/passwd").mode() & 0o7777, 0o664);
    assert!(md("opt/spark/python/pyspark/__init__.py").is_file());
    assert!(
        fs::symlink_metadata(root.join("opt/spark/R")).is_err(),
        "R only in spark-r"
    );
    assert!(fs::symlink_metadata(root.join("opt/spark/LICENSE")).is_err());
    assert!(md("opt/spark/tests/py_container_checks.py").is_file());
    assert_eq!(
        fs::read_link(root.join("opt/spark/examples/jars/spark-examples.jar")).unwrap(),
        Path::new("spark-examples_2.12-3.5.3.jar")
    );
    assert_eq!(
        fs::read_link(root.join("usr/bin/tini")).unwrap(),
        Path::new("/opt/spark-entrypoint")
    );
    assert_eq!(
        fs::read_link(root.join("opt/decom.sh")).unwrap(),
        Path::new("/opt/spark-entrypoint")
    );
    assert_eq!(
        fs::read(root.join("opt/spark-entrypoint")).unwrap(),
        fs::read(entrypoint()).unwrap()
    );
    assert_eq!(md("opt/spark-entrypoint").mode() & 0o7777, 0o755);
    assert_eq!(
        fs::read_link(root.join("opt/entrypoint.sh")).unwrap(),
        Path::new("/opt/spark-entrypoint")
    );
    // The base has zoneinfo: /etc/localtime links into it, and the zone is there.
    assert_eq!(
        fs::read_link(root.join("etc/localtime")).unwrap(),
        Path::new("/usr/share/zoneinfo/Asia/Shanghai")
    );
    assert_eq!(
        fs::read(root.join("usr/share/zoneinfo/Asia/Shanghai")).unwrap(),
        fs::read("/usr/share/zoneinfo/Asia/Shanghai").unwrap()
    );
    assert_eq!(
        fs::read_to_string(root.join("etc/timezone")).unwrap(),
        "Asia/Shanghai\n"
    );
    let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(
        passwd.starts_with("root:x:0:0:root:/root:/bin/sh\nnobody:"),
        "{passwd}"
    );
    assert!(
        passwd.ends_with("spark:x:185:0:spark:/opt/spark:/usr/sbin/nologin\n"),
        "{passwd}"
    );
    // The base is untouched underneath.
    assert!(md("usr/lib/jvm/java-17-openjdk-amd64/bin/java").is_file());
}

#[test]
fn single_image_is_tagged_by_tag_and_archives_validate() {
    let fx = Fixture::new();
    let oci = fx.p("one");
    let rep = fx.build_ok(&["-t", "3.5.3", &format!("--output=oci:{}", oci.display())]);
    assert_eq!(rep["images"][0]["reference"], "spark:3.5.3");
    let oa = fx.p("img.oci.tar");
    let da = fx.p("img.docker.tar");
    let rep_oa = fx.build_ok(&[
        "-r",
        REPO,
        "-t",
        "3.5.3",
        &format!("--output=oci-archive:{}", oa.display()),
    ]);
    let rep_da = fx.build_ok(&[
        "-r",
        REPO,
        "-t",
        "3.5.3",
        &format!("--output=docker-archive:{}", da.display()),
    ]);
    // Same inputs → same image, whatever the container format.
    assert_eq!(
        rep_oa["images"][0]["manifest_digest"],
        rep_da["images"][0]["manifest_digest"]
    );
    assert_eq!(
        rep_da["layers_built"], 0,
        "second build is all cache hits: {rep_da}"
    );
    if need("skopeo") {
        run(Command::new("skopeo")
            .arg("inspect")
            .arg(format!("oci:{}:3.5.3", oci.display())));
        // By tag: the SBOM's referrer is a second manifest in the archive's index.
        run(Command::new("skopeo")
            .arg("inspect")
            .arg(format!("oci-archive:{}:3.5.3", oa.display())));
        let j = run(Command::new("skopeo")
            .args(["inspect", "--config"])
            .arg(format!("docker-archive:{}", da.display())));
        let cfg: Value = serde_json::from_str(&j).unwrap();
        assert_eq!(cfg["config"]["User"], "185");
        run(Command::new("skopeo")
            .args(["copy", "--quiet"])
            .arg(format!("docker-archive:{}", da.display()))
            .arg(format!("oci:{}:copied", fx.p("copied").display())));
    }
    if need_docker_engine() {
        let tag = "example.com/x/spark:3.5.3";
        let _ = Command::new("docker").args(["rmi", "-f", tag]).output();
        run(Command::new("docker").args(["load", "-i"]).arg(&da));
        let j = run(Command::new("docker").args(["image", "inspect", tag]));
        let v: Value = serde_json::from_str(&j).unwrap();
        let c = &v[0]["Config"];
        assert_eq!(c["Entrypoint"][0], "/opt/spark-entrypoint");
        assert_eq!(c["User"], "185");
        assert_eq!(c["WorkingDir"], "/opt/spark/work-dir");
        let busybox = Path::new("/bin/busybox").is_file();
        if !busybox {
            common::skip("no /bin/busybox (apt-get install busybox-static)");
        }
        if busybox {
            check_runs_in_docker(tag);
        }
        // Docker 20.10's `docker save` writes the legacy layout (manifest.json + layer
        // tars): it must work as a base, Java found through the config's JAVA_HOME.
        let saved = fx.p("saved.tar");
        run(Command::new("docker")
            .args(["save", "-o"])
            .arg(&saved)
            .arg(tag));
        let rebased = fx.build_ok(&[
            "-t",
            "3.5.3",
            &format!("--base=docker-archive:{}", saved.display()),
            &format!("--output=oci:{}", fx.p("rebased").display()),
        ]);
        assert_eq!(rebased["java_home"], "/usr/lib/jvm/java-17-openjdk-amd64");
        let _ = Command::new("docker").args(["rmi", "-f", tag]).output();
    }
    // Our own outputs work as bases: an OCI layout (by tag) and an OCI archive.
    for base in [
        format!("oci:{}:3.5.3", oci.display()),
        format!("oci-archive:{}", oa.display()),
    ] {
        let r = fx.build_ok(&[
            "-t",
            "3.5.4",
            &format!("--base={base}"),
            &format!("--output=oci:{}", fx.p("stacked").display()),
        ]);
        assert_eq!(r["java_home"], "/usr/lib/jvm/java-17-openjdk-amd64");
        assert!(r["base"]
            .as_str()
            .unwrap()
            .starts_with(base.split(':').next().unwrap()));
    }
}

/// The loaded image `tag` runs: Spark owned by 185, the entrypoint plans an executor.
fn check_runs_in_docker(tag: &str) {
    let ls = run(Command::new("docker").args([
        "run",
        "--rm",
        "--entrypoint",
        "/bin/busybox",
        tag,
        "ls",
        "-ln",
        "/opt/spark",
    ]));
    assert!(ls.contains("185"), "{ls}");
    let plan = run(Command::new("docker")
        .args(["run", "--rm"])
        .args([
            "-e",
            "SPARK_DRIVER_URL=spark://CoarseGrainedScheduler@driver:7078",
        ])
        .args(["-e", "SPARK_EXECUTOR_ID=1", "-e", "SPARK_EXECUTOR_CORES=1"])
        .args([
            "-e",
            "SPARK_EXECUTOR_MEMORY=1g",
            "-e",
            "SPARK_APPLICATION_ID=app-1",
        ])
        .args([
            "-e",
            "SPARK_EXECUTOR_POD_IP=10.0.0.2",
            "-e",
            "SPARK_RESOURCE_PROFILE_ID=0",
        ])
        .args(["-e", "SPARK_EXECUTOR_POD_NAME=exec-1"])
        .args([tag, "--print-plan", "executor"]));
    let p: Value = serde_json::from_str(plan.trim()).unwrap_or_else(|e| panic!("{e}: {plan}"));
    let text = p.to_string();
    assert!(
        text.contains("/usr/lib/jvm/java-17-openjdk-amd64/bin/java"),
        "{text}"
    );
    assert!(text.contains("KubernetesExecutorBackend"), "{text}");
    assert!(text.contains("/opt/spark/jars/*"), "{text}");
}

#[test]
fn reproducible_and_cached() {
    let fx = Fixture::new();
    let a = fx.p("a");
    let b = fx.p("b");
    let ra = fx.build_ok(&[
        "-t",
        "3.5.3",
        "-p",
        &format!("--output=oci:{}", a.display()),
    ]);
    // A second, cache-less build must produce the very same bytes.
    let rb = fx.build_ok(&[
        "-t",
        "3.5.3",
        "-p",
        "-n",
        &format!("--output=oci:{}", b.display()),
    ]);
    assert_eq!(ra["images"], rb["images"]);
    assert_eq!(tree_bytes(&a), tree_bytes(&b));
    assert_eq!(rb["layers_built"], 6);

    let again = fx.build_ok(&[
        "-t",
        "3.5.3",
        "-p",
        &format!("--output=oci:{}", a.display()),
    ]);
    assert_eq!(again["layers_built"], 0, "{again}");
    assert_eq!(again["images"], ra["images"]);

    // Editing conf/ rebuilds exactly the spark-bin layer.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(fx.p("spark/conf/spark-defaults.conf.template"))
        .unwrap();
    f.write_all(b"spark.x 1\n").unwrap();
    drop(f);
    let conf = fx.build_ok(&[
        "-t",
        "3.5.3",
        "-p",
        &format!("--output=oci:{}", a.display()),
    ]);
    assert_eq!(conf["layers_built"], 1, "{conf}");
    let built: Vec<&str> = conf["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["cached"] == false)
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(built, ["spark-bin"]);
    assert_ne!(
        conf["images"][0]["manifest_digest"],
        ra["images"][0]["manifest_digest"]
    );

    // Another SOURCE_DATE_EPOCH changes every digest of ours.
    let o = fx.build(
        &[
            "--json",
            "-t",
            "3.5.3",
            &format!("--output=oci:{}", fx.p("c").display()),
        ],
        Some("1700000000"),
    );
    let rc: Value = o.json();
    assert_ne!(
        rc["images"][0]["manifest_digest"],
        conf["images"][0]["manifest_digest"]
    );
    let cfg_digest = rc["images"][0]["config_digest"].as_str().unwrap();
    let cfg: Value =
        serde_json::from_slice(&fs::read(fx.p("c/blobs/sha256").join(&cfg_digest[7..])).unwrap())
            .unwrap();
    assert_eq!(cfg["created"], "2023-11-14T22:13:20Z");
}

/// Issue 19: layers are compressed on a pool of `SPARKIMG_THREADS` threads; the bytes
/// (so every digest) must not depend on its size, for gzip's blocks and zstd's frames.
#[test]
fn digests_do_not_depend_on_the_thread_count() {
    let fx = Fixture::new();
    // Several 1 MiB gzip blocks in the jars layer: text-like bytes from a fixed LCG.
    let mut x: u64 = 7;
    let big: Vec<u8> = (0..3_500_000)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            b"spark jar class 0123\n"[(x >> 59) as usize % 21]
        })
        .collect();
    write(&fx.p("spark/jars/big-1.0.jar"), &big, 0o644);
    for compression in ["gzip", "zstd"] {
        let digests: Vec<Value> = ["1", "4"]
            .iter()
            .map(|threads| {
                let out = fx.p(&format!("{compression}-{threads}"));
                let o = fx
                    .command(&[
                        "--json",
                        "-t",
                        "3.5.3",
                        "-n",
                        "--compression",
                        compression,
                        &format!("--output=oci:{}", out.display()),
                    ])
                    .env("SPARKIMG_THREADS", threads)
                    .run();
                let r = o.json();
                assert!(r["layers_built"].as_u64().unwrap() > 0, "{r}");
                r["images"].clone()
            })
            .collect();
        assert_eq!(digests[0], digests[1], "{compression}: 1 thread vs 4");
        assert_eq!(
            tree_bytes(&fx.p(&format!("{compression}-1"))),
            tree_bytes(&fx.p(&format!("{compression}-4")))
        );
    }
}

/// Asserts a run failed with `code` (a `sparkimg::exit` constant), `needle` in its stderr.
#[track_caller]
pub(crate) fn fails(o: &Output, code: u8, needle: &str) {
    eprintln!("checking failure containing {needle}");
    assert_exit(o, code);
    let err = o.stderr_text();
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
}

#[test]
fn bad_inputs_fail_clearly_and_write_nothing() {
    let fx = Fixture::new();
    let out = |n: &str| format!("--output=oci:{}", fx.p(n).display());

    fails(
        &fx.build(
            &["-t", "3.5.3", "--timezone", "Asia/Shanghia", &out("tz")],
            None,
        ),
        exit::USAGE,
        "Asia/Shanghai",
    );
    assert!(!fx.p("tz").exists());
    fails(
        &fx.build(
            &["-t", "3.5.3", "--timezone", "../../etc/passwd", &out("tz")],
            None,
        ),
        exit::USAGE,
        "unknown time zone",
    );
    fails(
        &fx.build(&["-t", "Bad Tag", &out("x")], None),
        exit::USAGE,
        "tag",
    );
    fails(
        &fx.build(&["-t", "3.5.3", "-r", "UPPER/case", &out("x")], None),
        exit::USAGE,
        "invalid path component",
    );
    // Without a distribution to read RELEASE from, a non-version tag needs --spark-version.
    let o = Sparkimg::new()
        .args(["build", "-t", "latest"])
        .arg(out("x"))
        .run();
    fails(&o, exit::USAGE, "--spark-version");
    fails(
        &fx.build(&["--spark-version", "1.6.3", "-t", "x", &out("x")], None),
        exit::USAGE,
        "2.3",
    );
    fails(
        &fx.build(&["--spark-version", "3.x", &out("x")], None),
        exit::USAGE,
        "3.x",
    );
    fails(
        &fx.build(&["-t", "3.5.3", &out("x")], Some("yesterday")),
        exit::USAGE,
        "SOURCE_DATE_EPOCH",
    );
    // A registry base nobody listens for (port 1 on loopback): exit 9, naming it.
    fails(
        &fx.build(
            &[
                "-t",
                "3.5.3",
                "--base",
                "127.0.0.1:1/x/jre:17",
                "--registry-retries",
                "1",
                &out("x"),
            ],
            None,
        ),
        exit::REGISTRY,
        "127.0.0.1:1/x/jre",
    );
    fails(
        &fx.build(&["-t", "3.5.3", "-f", "Dockerfile", &out("x")], None),
        exit::USAGE,
        "--engine docker",
    );
    // Two platforms from a rootfs base, which has no platform of its own.
    fails(
        &fx.build(
            &[
                "-t",
                "3.5.3",
                "--platform",
                "linux/amd64,linux/arm64",
                &out("x"),
            ],
            None,
        ),
        exit::USAGE,
        "rootfs: base has no platform",
    );
    assert!(!fx.p("x").exists());

    outputs_not_ours_and_unusable_inputs_fail(&fx);
}

/// [`bad_inputs_fail_clearly_and_write_nothing`], continued: outputs that are not ours
/// stay untouched; a base without Java and a directory without Spark are refused.
fn outputs_not_ours_and_unusable_inputs_fail(fx: &Fixture) {
    let out = |n: &str| format!("--output=oci:{}", fx.p(n).display());
    // Output that is not ours: untouched.
    write(&fx.p("precious/notes.txt"), b"keep", 0o644);
    fails(
        &fx.build(&["-t", "3.5.3", &out("precious")], None),
        exit::OUTPUT_NOT_OURS,
        "not an OCI image layout",
    );
    assert_eq!(fs::read(fx.p("precious/notes.txt")).unwrap(), b"keep");
    write(&fx.p("file.tar"), b"not a tar", 0o644);
    fails(
        &fx.build(
            &[
                "-t",
                "3.5.3",
                &format!("--output=docker-archive:{}", fx.p("file.tar").display()),
            ],
            None,
        ),
        exit::OUTPUT_NOT_OURS,
        "image archive",
    );
    assert_eq!(fs::read(fx.p("file.tar")).unwrap(), b"not a tar");

    // A base without Java.
    base_rootfs(&fx.p("nojava.tar.gz"), false);
    let o = fx.build(
        &[
            "-t",
            "3.5.3",
            &format!("--base=rootfs:{}", fx.p("nojava.tar.gz").display()),
            &out("nj"),
        ],
        None,
    );
    fails(&o, exit::BASE_OR_DIST, "no Java");
    assert!(!fx.p("nj").exists());
    // Not a Spark distribution.
    fs::create_dir_all(fx.p("empty")).unwrap();
    let o = Sparkimg::new()
        .args(["build", "-t", "3.5.3", "--spark-home"])
        .arg(fx.p("empty"))
        .arg(format!("--base=rootfs:{}", fx.p("base.tar.gz").display()))
        .arg("--entrypoint-binary")
        .arg(entrypoint())
        .arg("--cache-dir")
        .arg(fx.p("cache"))
        .arg(out("ne"))
        .run();
    fails(&o, exit::BASE_OR_DIST, "jars/spark-");
}

/// A multi-platform base as an OCI layout: one manifest per platform in its index, each
/// with a single gzip layer (the fixture rootfs; arm64's carries a marker file too).
fn multi_platform_base(dir: &Path, rootfs: &Path) {
    use sha2::{Digest, Sha256};
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> (String, u64) {
        let hex = hex::encode(Sha256::digest(bytes));
        fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len() as u64)
    };
    let mut manifests = Vec::new();
    for arch in ["amd64", "arm64"] {
        let mut raw = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(fs::File::open(rootfs).unwrap()),
            &mut raw,
        )
        .unwrap();
        if arch == "arm64" {
            // Append a marker before the tar's end blocks: re-tar with one more entry.
            let mut b = tar::Builder::new(Vec::new());
            let mut ar = tar::Archive::new(&raw[..]);
            for e in ar.entries().unwrap() {
                let mut e = e.unwrap();
                let h = e.header().clone();
                b.append(&h, &mut e).unwrap();
            }
            let mut h = tar::Header::new_gnu();
            h.set_size(6);
            h.set_mode(0o644);
            b.append_data(&mut h, "etc/arm64-marker", &b"arm64\n"[..])
                .unwrap();
            raw = b.into_inner().unwrap();
        }
        let diff_id = format!("sha256:{}", hex::encode(Sha256::digest(&raw)));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        let (layer, layer_size) = put(&gz.finish().unwrap());
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Env": ["PATH=/usr/bin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        });
        let (config, config_size) = put(&serde_json::to_vec(&config).unwrap());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": layer_size}],
        });
        let (m, m_size) = put(&serde_json::to_vec(&manifest).unwrap());
        manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": m, "size": m_size,
            "platform": {"os": "linux", "architecture": arch},
        }));
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    let (index, index_size) = put(&serde_json::to_vec(&index).unwrap());
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let top = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": index, "size": index_size,
            "annotations": {"org.opencontainers.image.ref.name": "base"},
        }],
    });
    fs::write(dir.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
}

pub(crate) fn blob_json(layout: &Path, digest: &str) -> Value {
    let path = layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn multi_platform_index_shares_spark_layers() {
    let f = Fixture::new();
    let base = f.p("base-oci");
    multi_platform_base(&base, &f.p("base.tar.gz"));
    // An arm64 entrypoint: the real binary with its ELF machine field changed (only its
    // architecture is checked here; it never runs).
    let mut arm = fs::read(entrypoint()).unwrap();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes());
    write(&f.p("arm64-entrypoint"), &arm, 0o755);
    let out = f.p("multi");
    let base_arg = format!("--base=oci:{}:base", base.display());
    let arm_arg = format!(
        "--platform-entrypoint=linux/arm64={}",
        f.p("arm64-entrypoint").display()
    );
    let out_arg = format!("--output=oci:{}", out.display());
    let report = f.build_ok(&[
        "-r",
        REPO,
        "-t",
        "3.5.3",
        "-p",
        &base_arg,
        "--platform",
        "linux/amd64,linux/arm64",
        &arm_arg,
        &out_arg,
    ]);

    // Spark layers are built once; only the system layer (entrypoint) is per platform.
    let layers = report["layers"].as_array().unwrap();
    let per_platform: Vec<&Value> = layers
        .iter()
        .filter(|l| l["platform"].is_string())
        .collect();
    assert_eq!(per_platform.len(), 2, "{layers:#?}");
    assert!(per_platform.iter().all(|l| l["name"] == "system"));
    assert_eq!(
        report["layers_built"].as_u64().unwrap() as usize,
        layers.len()
    );

    let images = report["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    let index_json: Value =
        serde_json::from_slice(&fs::read(out.join("index.json")).unwrap()).unwrap();
    for image in images {
        check_platform_index(&out, &index_json, image);
    }

    if need("skopeo") {
        let target = format!("oci:{}:{REPO}/spark:3.5.3", out.display());
        let raw: Value = serde_json::from_str(&run(
            Command::new("skopeo").args(["inspect", "--raw", &target])
        ))
        .unwrap();
        assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
        let arm: Value = serde_json::from_str(&run(Command::new("skopeo").args([
            "--override-arch",
            "arm64",
            "inspect",
            &target,
        ])))
        .unwrap();
        assert_eq!(arm["Architecture"], "arm64");
        let dir = f.p("copied");
        run(Command::new("skopeo").args([
            "copy",
            "--all",
            &target,
            &format!("oci:{}:copy", dir.display()),
        ]));
    }

    // Refusals: an entrypoint for the wrong architecture, and several platforms into a
    // docker-archive (docker load has no multi-platform images).
    let o = f.build(
        &[
            "-t",
            "3.5.3",
            &base_arg,
            "--platform",
            "linux/arm64",
            &format!("--output=oci:{}", f.p("wrong-arch").display()),
        ],
        None,
    );
    fails(&o, exit::USAGE, "built for amd64");
    assert!(!f.p("wrong-arch").exists());
    let o = f.build(
        &[
            "-t",
            "3.5.3",
            &base_arg,
            "--platform",
            "linux/amd64,linux/arm64",
            &arm_arg,
            &format!("--output=docker-archive:{}", f.p("multi.tar").display()),
        ],
        None,
    );
    fails(&o, exit::USAGE, "docker-archive holds one platform");
    assert!(!f.p("multi.tar").exists());
}

/// One image of the multi-platform layout `out`: an index of one manifest per
/// platform, each with its own base and system layer and the same Spark layers.
fn check_platform_index(out: &Path, index_json: &Value, image: &Value) {
    assert_eq!(image["platform"], "linux/amd64,linux/arm64");
    assert_eq!(image["platforms"].as_array().unwrap().len(), 2);
    let reference = image["reference"].as_str().unwrap();
    let entry = index_json["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["io.containerd.image.name"] == reference)
        .unwrap();
    assert_eq!(
        entry["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(entry["digest"], image["manifest_digest"]);
    let index = blob_json(out, image["manifest_digest"].as_str().unwrap());
    let manifests: Vec<Value> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["platform"]["architecture"].as_str().unwrap().to_string(),
                m["digest"].clone(),
            )
        })
        .map(|(arch, d)| {
            let m = blob_json(out, d.as_str().unwrap());
            let config = blob_json(out, m["config"]["digest"].as_str().unwrap());
            assert_eq!(config["architecture"], arch.as_str());
            m
        })
        .collect();
    let layer_digests = |m: &Value| -> Vec<String> {
        m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect()
    };
    let (a, b) = (layer_digests(&manifests[0]), layer_digests(&manifests[1]));
    assert_eq!(a.len(), b.len());
    // Each platform's own base, the same Spark layers, its own system layer.
    assert_ne!(a[0], b[0]);
    assert_eq!(a[1..a.len() - 1], b[1..b.len() - 1]);
    assert_ne!(a.last(), b.last());
}

/// The paths in a gzip layer blob of a layout.
fn layer_paths(layout: &Path, digest: &str) -> Vec<String> {
    let blob = fs::File::open(layout.join("blobs/sha256").join(&digest[7..])).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    tar.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn packages_are_baked_into_jars_and_rebuilt_offline() {
    let fx = Fixture::new();
    let repo = fx.p("m2");
    common::maven_module(&repo, "org.a", "app", "1.0", &[("org.b", "lib", "2.0")]);
    common::maven_module(&repo, "org.b", "lib", "2.0", &[]);
    let root = format!("file://{}/", repo.display());
    let env = [("DEFAULT_ARTIFACT_REPOSITORY", root.as_str())];
    let out = fx.p("out");
    let args = ["--json", "-t", "3.5.3", "--packages", "org.a:app:1.0"];
    let output = format!("--output=oci:{}", out.display());
    let build = |extra: &[&str]| {
        let all: Vec<&str> = args.iter().copied().chain(extra.iter().copied()).collect();
        let o = fx.build_env(&all, None, &env);
        o.json()
    };
    let sbom_dir = format!("--sbom-dir={}", fx.p("sboms").display());
    let r = build(&[&output, &sbom_dir]);
    // The SBOM names the package jars (no pom.properties here) by their resolution.
    let spdx = fs::read_dir(fx.p("sboms"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let spdx: Value = serde_json::from_slice(&fs::read(spdx).unwrap()).unwrap();
    let purls: Vec<&str> = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
        .collect();
    for want in ["pkg:maven/org.a/app@1.0", "pkg:maven/org.b/lib@2.0"] {
        assert!(purls.contains(&want), "{want} not in {purls:?}");
    }
    let files: Vec<&str> = r["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["org.a_app-1.0.jar", "org.b_lib-2.0.jar"]);
    assert_eq!(r["packages"][0]["coordinate"], "org.a:app:1.0");
    assert_eq!(r["packages"][0]["repository"], root.as_str());
    assert_eq!(r["packages"][0]["sha256"].as_str().unwrap().len(), 64);
    let names: Vec<&str> = r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    let at = names
        .iter()
        .position(|n| *n == "packages")
        .expect("a packages layer");
    assert_eq!(names[at - 1], "spark-jars");
    let paths = layer_paths(&out, r["layers"][at]["digest"].as_str().unwrap());
    assert!(
        paths.contains(&"opt/spark/jars/org.a_app-1.0.jar".to_string()),
        "{paths:?}"
    );
    let manifest = blob_json(&out, r["images"][0]["manifest_digest"].as_str().unwrap());
    assert_eq!(
        manifest["annotations"]["dev.sparkimg.packages"],
        "org.a:app:1.0,org.b:lib:2.0"
    );
    // The repository gone, a rebuild resolves from the cache and reuses the layer.
    fs::remove_dir_all(&repo).unwrap();
    let again = build(&[&output]);
    assert_eq!(again["layers_built"], 0, "{again}");
    assert_eq!(again["images"], r["images"]);
    // Spark's grammar: a coordinate without a version is a usage error.
    let o = fx.build_env(
        &["-t", "3.5.3", "--packages", "org.a:app", &output],
        None,
        &env,
    );
    fails(&o, exit::USAGE, "org.a:app");
}

/// `build --ivy-settings`: the file's chain (an unreachable ibiblio, then a url resolver
/// on a file:// repository) replaces Spark's default one, as spark.jars.ivySettings does.
#[test]
fn packages_come_from_an_ivy_settings_chain() {
    let fx = Fixture::new();
    let repo = fx.p("m2");
    common::maven_module(&repo, "org.a", "app", "1.0", &[]);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/m2/", dead.local_addr().unwrap());
    drop(dead);
    let m2 = "[organisation]/[module]/[revision]/[artifact]-[revision](-[classifier]).[ext]";
    let settings = fx.p("ivysettings.xml");
    fs::write(
        &settings,
        format!(
            "<ivysettings><settings defaultResolver=\"corp\"/><resolvers><chain name=\"corp\">\
             <ibiblio name=\"down\" m2compatible=\"true\" root=\"{dead_url}\"/>\
             <url name=\"local\" m2compatible=\"true\"><artifact pattern=\"file://${{ivy.settings.dir}}/m2/{m2}\"/></url>\
             </chain></resolvers></ivysettings>"
        ),
    )
    .unwrap();
    let output = format!("--output=oci:{}", fx.p("out").display());
    let flag = format!("--ivy-settings={}", settings.display());
    let home = fx.p("home");
    let o = fx.build_env(
        &[
            "--json",
            "-t",
            "3.5.3",
            "--packages",
            "org.a:app:1.0",
            &flag,
            &output,
        ],
        None,
        &[("HOME", home.to_str().unwrap())],
    );
    let r = o.json();
    assert_eq!(r["packages"][0]["file"], "org.a_app-1.0.jar", "{r}");
    let root = format!("file://{}/", repo.display());
    assert_eq!(r["packages"][0]["repository"], root.as_str());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("repository down (").count(), 1, "{err}");
    assert!(err.contains("--ivy-settings"), "{err}");
}

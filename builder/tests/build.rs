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

mod common;
use common::{need, need_docker_engine};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn entrypoint() -> PathBuf {
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

fn write(path: &Path, bytes: &[u8], mode: u32) {
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
fn base_rootfs(path: &Path, java: bool) {
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

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        fake_dist(&dir.path().join("spark"));
        base_rootfs(&dir.path().join("base.tar.gz"), true);
        Fixture { dir }
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    /// Run `sparkimg build` with the fixture's distribution, base, cache and entrypoint.
    fn build(&self, extra: &[&str], epoch: Option<&str>) -> Output {
        self.build_env(extra, epoch, &[])
    }
    fn build_env(&self, extra: &[&str], epoch: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut c = self.command(extra);
        c.envs(env.iter().copied());
        if let Some(e) = epoch {
            c.env("SOURCE_DATE_EPOCH", e);
        }
        c.output().unwrap()
    }
    /// The `sparkimg build` command of [`Fixture::build`], without an epoch.
    fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sparkimg"));
        c.arg("build")
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
            .env_remove("SOURCE_DATE_EPOCH");
        c
    }
    fn build_ok(&self, extra: &[&str]) -> Value {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let o = self.build(&args, None);
        assert!(
            o.status.success(),
            "build failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
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

fn tree_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
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
        let bundle = fx.p("bundle");
        run(Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:example.com/x/spark-py:3.5.3", out.display()))
            .arg(&bundle));
        let root = bundle.join("rootfs");
        use std::os::unix::fs::MetadataExt;
        let md =
            |p: &str| fs::symlink_metadata(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
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
            let p: Value =
                serde_json::from_str(plan.trim()).unwrap_or_else(|e| panic!("{e}: {plan}"));
            let text = p.to_string();
            assert!(
                text.contains("/usr/lib/jvm/java-17-openjdk-amd64/bin/java"),
                "{text}"
            );
            assert!(text.contains("KubernetesExecutorBackend"), "{text}");
            assert!(text.contains("/opt/spark/jars/*"), "{text}");
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
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rc: Value = serde_json::from_slice(&o.stdout).unwrap();
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
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                let r: Value = serde_json::from_slice(&o.stdout).unwrap();
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

fn fails(o: &Output, code: i32, needle: &str) {
    eprintln!("checking failure containing {needle}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
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
        2,
        "Asia/Shanghai",
    );
    assert!(!fx.p("tz").exists());
    fails(
        &fx.build(
            &["-t", "3.5.3", "--timezone", "../../etc/passwd", &out("tz")],
            None,
        ),
        2,
        "unknown time zone",
    );
    fails(&fx.build(&["-t", "Bad Tag", &out("x")], None), 2, "tag");
    fails(
        &fx.build(&["-t", "3.5.3", "-r", "UPPER/case", &out("x")], None),
        2,
        "invalid path component",
    );
    // Without a distribution to read RELEASE from, a non-version tag needs --spark-version.
    let o = Command::new(env!("CARGO_BIN_EXE_sparkimg"))
        .args(["build", "-t", "latest"])
        .arg(out("x"))
        .output()
        .unwrap();
    fails(&o, 2, "--spark-version");
    fails(
        &fx.build(&["--spark-version", "1.6.3", "-t", "x", &out("x")], None),
        2,
        "2.3",
    );
    fails(
        &fx.build(&["--spark-version", "3.x", &out("x")], None),
        2,
        "3.x",
    );
    fails(
        &fx.build(&["-t", "3.5.3", &out("x")], Some("yesterday")),
        2,
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
        9,
        "127.0.0.1:1/x/jre",
    );
    fails(
        &fx.build(&["-t", "3.5.3", "-f", "Dockerfile", &out("x")], None),
        2,
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
        2,
        "rootfs: base has no platform",
    );
    assert!(!fx.p("x").exists());

    // Output that is not ours: untouched.
    write(&fx.p("precious/notes.txt"), b"keep", 0o644);
    fails(
        &fx.build(&["-t", "3.5.3", &out("precious")], None),
        8,
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
        8,
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
    fails(&o, 6, "no Java");
    assert!(!fx.p("nj").exists());
    // Not a Spark distribution.
    fs::create_dir_all(fx.p("empty")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sparkimg"))
        .args(["build", "-t", "3.5.3", "--spark-home"])
        .arg(fx.p("empty"))
        .arg(format!("--base=rootfs:{}", fx.p("base.tar.gz").display()))
        .arg("--entrypoint-binary")
        .arg(entrypoint())
        .arg("--cache-dir")
        .arg(fx.p("cache"))
        .arg(out("ne"))
        .output()
        .unwrap();
    fails(&o, 6, "jars/spark-");
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

fn blob_json(layout: &Path, digest: &str) -> Value {
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
        let index = blob_json(&out, image["manifest_digest"].as_str().unwrap());
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
                let m = blob_json(&out, d.as_str().unwrap());
                let config = blob_json(&out, m["config"]["digest"].as_str().unwrap());
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
    fails(&o, 2, "built for amd64");
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
    fails(&o, 2, "docker-archive holds one platform");
    assert!(!f.p("multi.tar").exists());
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
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
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
    fails(&o, 2, "org.a:app");
}

// ---- `sparkimg rebase` (issue 17) ----

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
type BasePlatform<'a> = (&'a str, Vec<Vec<u8>>, Vec<&'a str>);

fn oci_base(dir: &Path, platforms: &[BasePlatform]) {
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
/// `nojava` (the JVM whited out) and `java21` (Java 17 replaced by 21), for `arches`.
fn rebase_bases(f: &Fixture, arches: &[&str]) {
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
    let java21 = raw_layer(&[
        (wh17.as_str(), b""),
        ("usr/lib/jvm/java-21-openjdk-amd64/bin/java", b"#!/bin/sh\n"),
    ]);
    let env = vec!["PATH=/usr/bin:/bin", "LANG=C.UTF-8"];
    for (name, layers) in [
        ("v1", vec![root.clone()]),
        ("v2", vec![root.clone(), patch]),
        ("nojava", vec![root.clone(), nojava]),
        ("java21", vec![root.clone(), java21]),
    ] {
        let platforms: Vec<_> = arches
            .iter()
            .map(|a| (*a, layers.clone(), env.clone()))
            .collect();
        oci_base(&f.p(name), &platforms);
    }
}

fn sparkimg(f: &Fixture, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sparkimg"))
        .args(args)
        .arg("--cache-dir")
        .arg(f.p("cache"))
        .current_dir(f.dir.path())
        .output()
        .unwrap()
}

fn ok_json(o: Output) -> Value {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

const EPOCH: &str = "1700000000";

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
    let o = f.build(&args, Some(EPOCH));
    assert!(
        o.status.success(),
        "build failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
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
    sparkimg(f, &args)
}

/// Pushes the base layout `layout` (from [`rebase_bases`]) to the registry as `tag`.
fn push_base_layout(f: &Fixture, layout: &str, tag: &str) {
    let dir = format!("oci:{}", f.p(layout).display());
    ok_json(sparkimg(f, &["push", &dir, "--to", tag, "--json"]));
}

/// `build --push` as `name` on the registry base `base_tag`, with the rebase tests'
/// flags (zstd, a time zone, uid 1001) and `extra`: its JSON report.
fn build_push_on(f: &Fixture, base_tag: &str, name: &str, extra: &[&str]) -> Value {
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
    let o = f.build(&args, Some(EPOCH));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Two layouts hold the same files with the same bytes; else the differing names.
fn same_layout(a: &Path, b: &Path) {
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
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "the layouts differ: only in the first {only_a:#?}, only in the second {only_b:#?}"
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
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(
        err.contains(&host_platform) && err.contains(&platform),
        "{err}"
    );
    assert!(!f.p("wrong").exists(), "a refused rebase wrote its output");
    let r = ok_json(rebase(&f, "img-v1", "v2", "rebased", &[]));
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

    let r = ok_json(rebase(&f, "img-v1", "v2", "rebased", &[]));
    assert_eq!(r["image"]["manifest_digest"], fresh, "{r:#}");
    // Rebase shares the build's base scans, which `cache ls` lists (and prune removes).
    assert!(
        !f.p("cache/build/build").exists(),
        "rebase's own scan cache"
    );
    let ls = ok_json(sparkimg(&f, &["cache", "ls", "--json"]));
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
        let o = sparkimg(&f, &["sbom", &format!("oci:{}", f.p(dir).display())]);
        String::from_utf8(o.stdout).unwrap()
    };
    let (old, new) = (spdx("img-v1"), spdx("rebased"));
    assert!(!old.contains("pkg:deb/debian/openssl") && new.contains("pkg:deb/debian/openssl"));
    assert!(new.contains("\"/opt/spark-entrypoint\""), "{new}");
    // The system layer was rebuilt (v2's passwd), the Spark layers kept.
    let m = blob_json(&f.p("rebased"), fresh);
    let config = blob_json(&f.p("rebased"), m["config"]["digest"].as_str().unwrap());
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.base.name"],
        format!("oci:{}", f.p("v2").display())
    );
    let kept = p["kept_layers"].as_array().unwrap();
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2 + kept.len() + 1);
    for (l, k) in layers[2..].iter().zip(kept) {
        assert_eq!(&l["digest"], k);
    }

    // Layouts: the recorded base (an oci: layout, unchanged) is current.
    let img = format!("oci:{}", f.p("rebased").display());
    let o = sparkimg(&f, &["outdated", &img]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains(" current: "));

    // And back: the rebased image onto v1 is the image built on v1.
    let back = ok_json(rebase(&f, "rebased", "v1", "back", &[]));
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
    let o = sparkimg(
        &f,
        &[
            "rebase",
            &archive,
            &format!("--base=oci:{}", f.p("v2").display()),
            &format!("--output=oci:{}", f.p("rebased").display()),
            "--json",
        ],
    );
    let r = ok_json(o);
    assert_eq!(
        r["image"]["manifest_digest"], fresh["images"][0]["manifest_digest"],
        "{r:#}"
    );
    assert!(r["warnings"].as_array().is_some_and(Vec::is_empty), "{r:#}");
    // Both referrers, made for v2: every file equals the fresh build's.
    same_layout(&f.p("rebased"), &f.p("img-v2"));
    for format in ["spdx", "cyclonedx"] {
        let o = sparkimg(
            &f,
            &[
                "sbom",
                &format!("oci:{}", f.p("rebased").display()),
                "--format",
                format,
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
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
        assert_eq!(o.status.code(), Some(6), "{err}");
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
        rebase(&f, "img-v1", "java21", "out-c", &[]),
        &["Java 21", "Java 17", "--allow-java-change"],
    );
    for out in ["out-a", "out-b", "out-c"] {
        assert!(!f.p(out).exists(), "{out} written by a refused rebase");
    }
    let r = ok_json(rebase(
        &f,
        "img-v1",
        "java21",
        "out-d",
        &["--allow-java-change"],
    ));
    assert_eq!(
        r["platforms"][0]["java_home"],
        "/usr/lib/jvm/java-21-openjdk-amd64"
    );
    let built = build_on(&f, "java21", "img-21", &[]);
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
    let r = ok_json(rebase(&f, "img-v1", "v2", "rebased", &[]));
    assert_eq!(
        r["image"]["manifest_digest"],
        fresh["images"][0]["manifest_digest"]
    );
    assert_eq!(r["platforms"].as_array().unwrap().len(), 2);
    // The arm64 system layer keeps the arm64 entrypoint.
    same_layout(&f.p("rebased"), &f.p("img-v2"));
    // One platform only.
    let one = ok_json(rebase(
        &f,
        "img-v1",
        "v2",
        "amd64-only",
        &["--platform", "linux/amd64"],
    ));
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
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let build_push = |name: &str, out: &str| build_to(name, out, "--push");
    let image = format!("{host}/x/spark:t");
    let outdated = |expect: i32| -> Value {
        let o = sparkimg(&f, &["outdated", &image, "--json"]);
        assert_eq!(
            o.status.code(),
            Some(expect),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    };
    push_base("v1");
    let old = build_push("t", "img-v1");
    let v = outdated(0);
    assert_eq!(
        v["images"][0]["platforms"][0]["base"],
        base_tag.as_str(),
        "{v:#}"
    );
    // The base tag moves to v2; a fresh build on it is the reference.
    push_base("v2");
    let v = outdated(1);
    let p = &v["images"][0]["platforms"][0];
    assert_ne!(p["recorded_digest"], p["current_digest"], "{v:#}");
    let before = reg.requests().len();
    let base = format!("--base={base_tag}");
    let r = ok_json(sparkimg(&f, &["rebase", &image, &base, "--push", "--json"]));
    let after = reg.requests()[before..].to_vec();
    // Read before the fresh build below adds its own referrer (named :fresh) to the
    // same subject.
    let sbom_of = |image: &str| {
        let o = sparkimg(&f, &["sbom", image]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
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
    outdated(0);
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
    let r = ok_json(sparkimg(
        &f,
        &["rebase", &image, &base, &to, "--push", "--json"],
    ));
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
    let outdated = |code: i32| -> Vec<(String, bool)> {
        let o = sparkimg(&f, &["outdated", &image, "--json"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{err}");
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
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
    assert_eq!(outdated(1), both(true));
    let base = format!("--base={base_tag}");
    let before = reg.requests().len();
    let r = ok_json(sparkimg(&f, &["rebase", &image, &base, "--push", "--json"]));
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
    assert_eq!(outdated(0), both(false));
    // Each platform's SPDX names v2's packages (read before the fresh build adds its
    // own referrers to the same subjects).
    for p in ["linux/amd64", "linux/arm64"] {
        let o = sparkimg(&f, &["sbom", &image, "--platform", p]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
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
    let o = sparkimg(
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
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(
        err.contains(&host_platform) && err.contains(&platform) && err.contains(&image),
        "{err}"
    );
    let r = ok_json(sparkimg(&f, &["rebase", &image, &base, "--push", "--json"]));
    assert_eq!(r["platforms"][0]["platform"], platform.as_str(), "{r:#}");
    assert_eq!(r["platforms"].as_array().unwrap().len(), 1, "{r:#}");
    let fresh = build_push("fresh");
    assert_eq!(
        r["image"]["manifest_digest"], fresh["images"][0]["manifest_digest"],
        "{r:#}"
    );
    // The matching --platform is accepted (the image is current now: same digest).
    let r = ok_json(sparkimg(
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
    ));
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
    let r = ok_json(sparkimg(
        &f,
        &["rebase", &image, &base, &to, "--push", "--json"],
    ));
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
    let o = sparkimg(&f, &["sbom", &target]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
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
    let r = ok_json(sparkimg(
        &f,
        &[
            "rebase",
            &image,
            &format!("--base={base_tag}"),
            &format!("--to={target}"),
            "--push",
            "--json",
        ],
    ));
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
        let again = ok_json(sparkimg(
            &f,
            &[
                "rebase",
                &image,
                &format!("--base={base_tag}"),
                &format!("--to={target}"),
                "--push",
                "--json",
            ],
        ));
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

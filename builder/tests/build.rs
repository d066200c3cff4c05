//! `sparkimg build` end to end, validated with real tools: skopeo, umoci and the Docker
//! Engine. Each tool-dependent check is skipped (with a note on stderr) when the tool is
//! missing, except under CI=true, where a missing tool fails the test.
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

fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").is_err(),
            "{tool} is required under CI (apt-get install skopeo umoci busybox-static docker)"
        );
        eprintln!("SKIP: {tool} not installed");
    }
    ok
}

fn docker_ok() -> bool {
    have("docker")
        && Command::new("docker")
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success())
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
        if let Some(e) = epoch {
            c.env("SOURCE_DATE_EPOCH", e);
        }
        c.output().unwrap()
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

    if have("skopeo") {
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

    if have("umoci") {
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
            fs::read(root.join("etc/localtime")).unwrap(),
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
    if have("skopeo") {
        run(Command::new("skopeo")
            .arg("inspect")
            .arg(format!("oci:{}:3.5.3", oci.display())));
        run(Command::new("skopeo")
            .arg("inspect")
            .arg(format!("oci-archive:{}", oa.display())));
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
    if docker_ok() {
        let tag = "example.com/x/spark:3.5.3";
        let _ = Command::new("docker").args(["rmi", "-f", tag]).output();
        run(Command::new("docker").args(["load", "-i"]).arg(&da));
        let j = run(Command::new("docker").args(["image", "inspect", tag]));
        let v: Value = serde_json::from_str(&j).unwrap();
        let c = &v[0]["Config"];
        assert_eq!(c["Entrypoint"][0], "/opt/spark-entrypoint");
        assert_eq!(c["User"], "185");
        assert_eq!(c["WorkingDir"], "/opt/spark/work-dir");
        if Path::new("/bin/busybox").is_file() {
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
        7,
        "--engine docker",
    );
    // --push needs an oci: output to push from.
    fails(
        &fx.build(
            &[
                "-t",
                "3.5.3",
                "--push",
                &format!("--output=oci-archive:{}", fx.p("x").display()),
            ],
            None,
        ),
        2,
        "--push needs an oci:DIR output",
    );
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
        7,
        "platform",
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

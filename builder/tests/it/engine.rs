//! The Docker Engine path against a real daemon: `build --engine docker` from the real
//! Spark fixture, `build --load` of a daemonless build, the two compared file by file,
//! images run, and the errors when no daemon answers.
//!
//! Needs a Docker Engine (Docker 20.10's classic builder is enough), the fixture
//! distribution (`cargo xtask fixtures`), the base rootfs (`cargo xtask fixtures
//! --docker-base`) and the entrypoint (`cargo xtask dist`), all of which `cargo xtask test`
//! prepares. Missing pieces skip the test with its reason (`common::skip`), and fail it
//! under CI.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sparkimg::engine::{discovery, Daemon};

use crate::common;
use crate::common::{assert_exit, need, need_docker_engine, skip, LoopbackRegistry, Ran, Sparkimg};
use sparkimg::exit;

pub(crate) const BASE: &str = "sparkimg-fixture/base:bookworm-jre17";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().unwrap()
}

fn docker_ok(args: &[&str]) -> String {
    let o = docker(args);
    assert!(
        o.status.success(),
        "docker {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What the tests need; `None` (after a loud note) when something is missing.
pub(crate) struct Env {
    pub(crate) dist: PathBuf,
    pub(crate) entrypoint: PathBuf,
    rootfs: PathBuf,
}

pub(crate) fn env() -> Option<Env> {
    if !need_docker_engine() {
        return None;
    }
    let dist = Some(
        root()
            .join("target/fixtures/dist")
            .join(common::FIXTURE_DIST),
    )
    .filter(|p| p.join("jars").is_dir());
    let entrypoint = root().join("target/dist/spark-entrypoint");
    let rootfs = root().join("target/fixtures/base/bookworm-jre17.tar");
    let (Some(dist), true, true) = (dist, entrypoint.is_file(), rootfs.is_file()) else {
        skip("fixtures missing: run `cargo xtask fixtures --docker-base` and `cargo xtask dist`");
        return None;
    };
    // The base image, imported from the fixture rootfs when the daemon lacks it (what
    // `cargo xtask fixtures --docker-base` does with `docker import`).
    let daemon = Daemon::connect(
        discovery::discover().unwrap(),
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    if daemon.inspect(BASE).unwrap().is_none() {
        let (repo, tag) = BASE.split_once(':').unwrap();
        daemon
            .import_rootfs(
                rootfs.clone(),
                repo,
                tag,
                vec![
                    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
                ],
            )
            .unwrap();
    }
    Some(Env {
        dist,
        entrypoint,
        rootfs,
    })
}

/// Removes the images (and their tags) a test made, also when it panics
/// ([`common::remove_images`]).
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        common::remove_images(&self.0);
    }
}

/// Every Spark path of an image: path, mode, owner, type, link target; then sha256 of
/// every regular file. Sorted, so two images compare line by line.
fn tree(image: &str) -> String {
    let script = "find /opt -maxdepth 0 -printf '%p %m %U:%G %y\\n'; \
        find /opt/spark /opt/spark-entrypoint /usr/bin/tini /opt/decom.sh /opt/entrypoint.sh /etc/localtime \
             /etc/timezone /etc/passwd -printf '%p %m %U:%G %y %l\\n' | sort; \
        find /opt/spark /opt/spark-entrypoint /etc/localtime /etc/timezone /etc/passwd \
             -type f -exec sha256sum {} + | sort";
    docker_ok(&["run", "--rm", "--entrypoint", "sh", image, "-c", script])
}

/// The config fields both paths must agree on.
fn config(image: &str) -> Value {
    let v: Value = serde_json::from_str(&docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config}}",
        image,
    ]))
    .unwrap();
    let env: BTreeMap<String, String> = v["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str()?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let labels = &v["Labels"];
    serde_json::json!({
        "Entrypoint": v["Entrypoint"],
        "Cmd": v["Cmd"],
        "User": v["User"],
        "WorkingDir": v["WorkingDir"],
        "Env": env,
        "version": labels["org.opencontainers.image.version"],
        "title": labels["org.opencontainers.image.title"],
        "created": labels["org.opencontainers.image.created"],
        "source": labels["org.opencontainers.image.source"],
        "packages": labels["dev.sparkimg.packages"],
    })
}

/// Panics with the first differing lines when two images' [`tree`]s differ.
fn assert_same_tree(what: &str, engine: &str, loaded: &str) -> String {
    let (ta, tb) = (tree(engine), tree(loaded));
    assert!(ta.lines().count() > 500, "{ta}");
    if ta != tb {
        let diff: Vec<String> = ta
            .lines()
            .zip(tb.lines())
            .filter(|(x, y)| x != y)
            .take(10)
            .map(|(x, y)| format!("engine: {x}\nloaded: {y}"))
            .collect();
        panic!("{what}: the two paths differ:\n{}", diff.join("\n"));
    }
    ta
}

fn run(args: &[&str]) -> String {
    docker_ok(&[&["run", "--rm"], args].concat())
}

#[test]
fn engine_build_matches_daemonless_load_and_runs() {
    let Some(env) = env() else { return };
    let repo = format!("sparkimg-test-{}", std::process::id());
    let mut guard = Images(Vec::new());
    // No spark-r: the fixture (from PyPI's pyspark) has no R/, which spark-r needs
    // (refused, see `trimmed_distribution_builds_on_both_paths`).
    for v in ["spark", "spark-py"] {
        guard.0.push(format!("{repo}/{v}:engine"));
        guard.0.push(format!("{repo}/{v}:loaded"));
    }
    let cache = tempfile::tempdir().unwrap();
    let dist = env.dist.to_str().unwrap();
    let ep = env.entrypoint.to_str().unwrap();
    let cache_dir = cache.path().to_str().unwrap();

    // The Docker Engine path, all three images.
    let built = Sparkimg::new()
        .args([
            "build",
            "--engine",
            "docker",
            "--spark-home",
            dist,
            "-r",
            &repo,
            "-t",
            "engine",
            "-p",
            "--base",
            BASE,
            "--entrypoint-binary",
            ep,
            "--cache-dir",
            cache_dir,
            "--json",
        ])
        .json();
    let images = built["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "{built}");
    for i in images {
        let id = i["image_id"].as_str().unwrap();
        assert!(id.starts_with("sha256:"), "{i}");
        let r = i["reference"].as_str().unwrap();
        let inspected = docker_ok(&["image", "inspect", "--format", "{{.Id}}", r]);
        assert_eq!(inspected.trim(), id);
    }
    assert_eq!(built["java_home"], "/usr/lib/jvm/java-17-openjdk-amd64");

    // The daemonless path, streamed into the daemon.
    let rootfs = format!("rootfs:{}", env.rootfs.display());
    let loaded = Sparkimg::new()
        .args([
            "build",
            "--load",
            "--spark-home",
            dist,
            "-r",
            &repo,
            "-t",
            "loaded",
            "-p",
            "--base",
            &rootfs,
            "--entrypoint-binary",
            ep,
            "--cache-dir",
            cache_dir,
            "--json",
        ])
        .json();
    for i in loaded["images"].as_array().unwrap() {
        // A loaded image's ID is its config digest: the daemon kept our config as is.
        assert_eq!(i["image_id"], i["config_digest"], "{i}");
    }

    // Same files, owners, modes, link targets and contents; same runtime config.
    for v in ["spark", "spark-py"] {
        let (a, b) = (format!("{repo}/{v}:engine"), format!("{repo}/{v}:loaded"));
        assert_same_tree(v, &a, &b);
        assert_eq!(config(&a), config(&b), "{v}");
    }
    let t = tree(&format!("{repo}/spark:engine"));
    for line in [
        "/usr/bin/tini 777 0:0 l /opt/spark-entrypoint",
        "/opt/decom.sh 777 0:0 l /opt/spark-entrypoint",
        "/opt/spark/work-dir 775 185:0 d",
        "/etc/passwd 664 0:0 f",
        "/opt/entrypoint.sh 777 0:0 l /opt/spark-entrypoint",
        "/etc/localtime 777 0:0 l /usr/share/zoneinfo/UTC",
    ] {
        assert!(
            t.lines().any(|l| l.trim_end() == line),
            "no '{line}' in\n{t}"
        );
    }

    check_engine_images_run(&repo);
}

/// The images of `engine_build_matches_daemonless_load_and_runs` run: the entrypoint's
/// plan for a pod-like driver, Java, PySpark, and SparkPi in the loaded daemonless one.
fn check_engine_images_run(repo: &str) {
    // The images run: the entrypoint's plan for a pod-like driver, Java, PySpark.
    let jvm = format!("{repo}/spark:engine");
    let plan = run(&[
        "-e",
        "SPARK_DRIVER_BIND_ADDRESS=10.0.0.1",
        "-e",
        "SPARK_USER=spark",
        &jvm,
        "--print-plan",
        "driver",
        "--class",
        "x.Y",
        "local:///opt/app.jar",
    ]);
    let plan: Value = serde_json::from_str(plan.trim()).unwrap_or_else(|e| panic!("{e}: {plan}"));
    let text = plan.to_string();
    assert!(
        text.contains("spark-submit") && text.contains("10.0.0.1"),
        "{text}"
    );
    let java = docker(&["run", "--rm", "--entrypoint", "java", &jvm, "-version"]);
    assert!(
        java.status.success() && String::from_utf8_lossy(&java.stderr).contains("17."),
        "{}",
        String::from_utf8_lossy(&java.stderr)
    );
    let py = run(&[
        "--entrypoint",
        "sh",
        &format!("{repo}/spark-py:engine"),
        "-c",
        "PYTHONPATH=/opt/spark/python:$(ls /opt/spark/python/lib/py4j-*.zip) \
         python3 -c 'import pyspark; print(pyspark.__version__)'",
    ]);
    assert_eq!(py.trim(), "3.5.9");

    // A real job in the loaded daemonless image: SparkPi under the entrypoint as PID 1.
    let jar = root().join("target/fixtures/sparkpi.jar");
    if jar.is_file() {
        let mount = format!("{}:/opt/sparkpi.jar:ro", jar.display());
        let out = run(&[
            "-v",
            &mount,
            "-e",
            "SPARK_DRIVER_BIND_ADDRESS=127.0.0.1",
            // Spark's own address too, else it advertises the container's bridge IP.
            "-e",
            "SPARK_LOCAL_IP=127.0.0.1",
            &format!("{repo}/spark:loaded"),
            "driver",
            "--master",
            "local[2]",
            "--class",
            "fixture.JavaSparkPi",
            "--conf",
            "spark.ui.enabled=false",
            "/opt/sparkpi.jar",
            "4",
        ]);
        assert!(out.contains("Pi is roughly"), "{out}");
    } else {
        skip("no target/fixtures/sparkpi.jar: SparkPi run left out");
    }
}

/// `--packages` on both paths: the same jars in /opt/spark/jars (owners, modes,
/// contents, with the rest of the tree) and the same `dev.sparkimg.packages` label.
#[test]
fn packages_are_the_same_on_both_paths() {
    let Some(env) = env() else { return };
    let repo = format!("packages-engine-{}", std::process::id());
    let (engine, loaded) = (
        format!("{repo}/spark:engine"),
        format!("{repo}/spark:loaded"),
    );
    let _guard = Images(vec![engine.clone(), loaded.clone()]);
    let tmp = tempfile::tempdir().unwrap();
    let m2 = tmp.path().join("m2");
    common::maven_module(&m2, "org.a", "app", "1.0", &[("org.b", "lib", "2.0")]);
    common::maven_module(&m2, "org.b", "lib", "2.0", &[]);
    let root = format!("file://{}/", m2.display());
    let maven = [("DEFAULT_ARTIFACT_REPOSITORY", root.as_str())];
    let cache = tmp.path().join("cache");
    let rootfs = format!("rootfs:{}", env.rootfs.display());
    let shared = [
        "--spark-home",
        env.dist.to_str().unwrap(),
        "-r",
        &repo,
        "--entrypoint-binary",
        env.entrypoint.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "--json",
        "--packages",
        "org.a:app:1.0",
    ];
    let build = |path: &[&str]| {
        Sparkimg::new()
            .args([&["build"], path, &shared].concat())
            .envs(&maven)
            .json()
    };
    let by_engine = build(&["--engine", "docker", "-t", "engine", "--base", BASE]);
    let by_load = build(&["--load", "-t", "loaded", "--base", &rootfs]);
    assert_eq!(by_engine["packages"], by_load["packages"]);
    assert_eq!(by_engine["packages"].as_array().map(Vec::len), Some(2));

    let t = assert_same_tree("spark", &engine, &loaded);
    for jar in ["org.a_app-1.0.jar", "org.b_lib-2.0.jar"] {
        let line = format!("/opt/spark/jars/{jar} 644 185:0 f");
        assert!(
            t.lines().any(|l| l.trim_end() == line),
            "no '{line}' in\n{t}"
        );
    }
    let (a, b) = (config(&engine), config(&loaded));
    assert_eq!(a, b);
    assert_eq!(a["packages"], "org.a:app:1.0,org.b:lib:2.0");
}

#[test]
fn no_daemon_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let sock = format!("unix://{}/none.sock", dir.path().display());
    for args in [
        &["build", "--engine", "docker", "--spark-version", "3.5.3"][..],
        &["build", "--load", "--spark-version", "3.5.3"][..],
        &["push", "--engine", "docker", "example.com/x/spark:3.5.3"][..],
    ] {
        let o = Sparkimg::new()
            .args(args)
            .envs(&[("DOCKER_HOST", &sock)])
            .run();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            Some(exit::NO_ENGINE.into()),
            "{args:?}: {err}"
        );
        assert!(err.contains("no Docker Engine answers"), "{err}");
        assert!(err.contains("--output oci:DIR"), "{err}");
        assert!(err.contains("DOCKER_HOST"), "{err}");
    }
    // A context that does not exist is named.
    let o = Sparkimg::new()
        .args(["build", "--engine", "docker", "--spark-version", "3.5.3"])
        .envs(&[
            ("DOCKER_CONTEXT", "nowhere"),
            ("DOCKER_CONFIG", dir.path().to_str().unwrap()),
        ])
        .run();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_exit(&o, exit::NO_ENGINE);
    assert!(err.contains("'nowhere'"), "{err}");
    // -f belongs to --engine docker.
    let o = Sparkimg::new()
        .args(["build", "-f", "Dockerfile", "--spark-version", "3.5.3"])
        .envs(&[("DOCKER_HOST", &sock)])
        .run();
    assert_exit(&o, exit::USAGE);
}

/// `sparkimg push --engine docker` pushes through the daemon (Docker treats 127.0.0.0/8
/// registries as insecure, so plain HTTP works) and reports the repository digest, which
/// an independent client (skopeo) then finds in the registry.
#[test]
fn push_through_the_daemon_to_a_local_registry() {
    if !need_docker_engine() {
        return;
    }
    let Some(registry) = LoopbackRegistry::start() else {
        return;
    };
    // A tiny image of our own (one file), so the push is quick.
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&rootfs).unwrap());
        let data = format!("pushed by sparkimg's engine test {}\n", std::process::id());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "hello.txt", data.as_bytes()).unwrap();
        b.finish().unwrap();
    }
    let reference = format!("127.0.0.1:{}/engine-test/tiny:1", registry.port);
    let _images = Images(vec![reference.clone()]);
    docker_ok(&["import", rootfs.to_str().unwrap(), &reference]);

    let report = Sparkimg::new()
        .args(["push", "--engine", "docker", &reference, "--json"])
        .json();
    let text = report.to_string();
    let digest = text
        .split('"')
        .find(|s| s.contains("engine-test/tiny@sha256:"))
        .unwrap_or_else(|| panic!("no repo digest in {text}"))
        .rsplit('@')
        .next()
        .unwrap()
        .to_string();
    if need("skopeo") {
        let out = Command::new("skopeo")
            .args(["inspect", "--tls-verify=false"])
            .arg(format!("docker://{reference}"))
            .output()
            .unwrap();
        let inspected: Value = out.json();
        assert_eq!(inspected["Digest"], digest.as_str(), "{inspected}");
    }

    // The registry gone: the daemon's push fails, and we say so (exit 12).
    drop(registry);
    let out = Sparkimg::new()
        .args(["push", "--engine", "docker", &reference])
        .run();
    assert_exit(&out, exit::ENGINE_FAILED);
}

/// `src` copied to `dst` as hard links: the fixture's 300 MB stay shared.
fn linked_copy(src: &Path, dst: &Path) {
    let cp = Command::new("cp")
        .arg("-al")
        .arg(src)
        .arg(dst)
        .status()
        .unwrap();
    assert!(cp.success(), "cp -al {} {}", src.display(), dst.display());
}

/// A distribution trimmed as users slim images (no `examples/`, no `data/`): both paths
/// build it, with the same files and no empty layer; an image whose part is missing is
/// refused by name before anything is built.
#[test]
fn trimmed_distribution_builds_on_both_paths() {
    let Some(env) = env() else { return };
    let work = tempfile::tempdir().unwrap();
    let dist = work.path().join("spark");
    linked_copy(&env.dist, &dist);
    for part in ["examples", "data", "kubernetes", "R"] {
        let _ = std::fs::remove_dir_all(dist.join(part));
    }
    // An empty directory is as good as none.
    std::fs::create_dir(dist.join("examples")).unwrap();

    let repo = format!("sparkimg-test-trim-{}", std::process::id());
    let _guard = Images(vec![
        format!("{repo}/spark:engine"),
        format!("{repo}/spark:loaded"),
    ]);
    let (d, ep) = (dist.to_str().unwrap(), env.entrypoint.to_str().unwrap());
    let cache = work.path().join("cache");
    let common = [
        "--spark-home",
        d,
        "-r",
        &repo,
        "--entrypoint-binary",
        ep,
        "--cache-dir",
        cache.to_str().unwrap(),
        "--json",
    ];
    let engine = Sparkimg::new()
        .args(
            [
                &[
                    "build", "--engine", "docker", "-t", "engine", "--base", BASE,
                ][..],
                &common,
            ]
            .concat(),
        )
        .run();
    engine.json();
    let rootfs = format!("rootfs:{}", env.rootfs.display());
    let loaded = Sparkimg::new()
        .args(
            [
                &["build", "--load", "-t", "loaded", "--base", &rootfs][..],
                &common,
            ]
            .concat(),
        )
        .json();
    let layers: Vec<&str> = loaded["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(layers, ["spark-deps", "spark-jars", "spark-bin", "system"]);

    let (a, b) = (
        tree(&format!("{repo}/spark:engine")),
        tree(&format!("{repo}/spark:loaded")),
    );
    assert!(a.contains("/opt/spark/jars/spark-core_"), "{a}");
    assert!(!a.contains("/opt/spark/examples"), "{a}");
    assert_eq!(a, b, "the two paths differ on a trimmed distribution");

    // spark-r needs R/: refused on both paths, naming the part and the flag (exit 6,
    // a distribution problem), before a layer or a daemon build exists.
    for engine_args in [
        &["--engine", "docker", "--base", BASE][..],
        &["--load", "--base", &rootfs],
    ] {
        let o = Sparkimg::new()
            .args([&["build", "-R", "-t", "refused"][..], engine_args, &common].concat())
            .run();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            Some(exit::BASE_OR_DIST.into()),
            "{engine_args:?}: {err}"
        );
        assert!(
            err.contains("spark-r needs R/") && err.contains("drop -R"),
            "{err}"
        );
    }
}

/// The diff IDs of an image's layers, base first.
fn layers(image: &str) -> Vec<String> {
    let out = docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        image,
    ]);
    serde_json::from_str(out.trim()).unwrap()
}

/// The built-in JVM Dockerfile is COPYs only (the config is one commit after them), and
/// a `conf/` change rebuilds one layer from the daemon's build cache.
#[test]
fn engine_steps_are_copies_and_a_conf_change_rebuilds_one_layer() {
    let Some(env) = env() else { return };
    let work = tempfile::tempdir().unwrap();
    let dist = work.path().join("spark");
    linked_copy(&env.dist, &dist);
    let repo = format!("sparkimg-test-conf-{}", std::process::id());
    let _guard = Images(vec![
        format!("{repo}/spark:one"),
        format!("{repo}/spark:two"),
    ]);
    let (d, ep) = (dist.to_str().unwrap(), env.entrypoint.to_str().unwrap());
    let build = |tag: &str| {
        Sparkimg::new()
            .args([
                "build",
                "--engine",
                "docker",
                "--base",
                BASE,
                "--spark-home",
                d,
                "-r",
                &repo,
                "-t",
                tag,
                "--entrypoint-binary",
                ep,
                "--json",
            ])
            .json()
    };
    build("one");
    let one = format!("{repo}/spark:one");
    let base_layers = layers(BASE).len();
    let history = docker_ok(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", &one]);
    // Newest first: the config commit, then system, spark-bin, spark-jars + examples,
    // spark-deps (the fixture has no --packages).
    let ours: Vec<&str> = history.lines().take(5).collect();
    assert!(ours[0].is_empty(), "{history}");
    assert!(
        ours[1..].iter().all(|l| l.contains("#(nop) COPY")),
        "{history}"
    );
    assert_eq!(layers(&one).len(), base_layers + 4, "{history}");

    std::fs::write(dist.join("conf/sparkimg-test.conf"), "a=1\n").unwrap();
    build("two");
    let (a, b) = (layers(&one), layers(&format!("{repo}/spark:two")));
    assert_eq!(a.len(), b.len());
    let changed: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    // spark-bin; the system COPY after it runs again but gives the same layer.
    assert_eq!(changed, [base_layers + 2], "{a:?}\n{b:?}");
}

fn skopeo_digest(reference: &str, creds: Option<&str>) -> String {
    let mut c = Command::new("skopeo");
    c.args(["inspect", "--tls-verify=false"]);
    if let Some(creds) = creds {
        c.args(["--creds", creds]);
    }
    let out = c.arg(format!("docker://{reference}")).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

/// `--output oci:D --push --load`: one daemonless build delivered to a layout, the
/// Docker Engine and a registry, all with the same digests.
#[test]
fn output_load_and_push_in_one_run() {
    let Some(env) = env() else { return };
    let Some(registry) = LoopbackRegistry::start() else {
        return;
    };
    let repo = format!("127.0.0.1:{}/sinks-{}", registry.port, std::process::id());
    let reference = format!("{repo}/spark:three");
    let _images = Images(vec![reference.clone()]);
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let o = Sparkimg::new()
        .args([
            "build",
            "--spark-home",
            env.dist.to_str().unwrap(),
            "-r",
            &repo,
            "-t",
            "three",
            "--base",
            &format!("rootfs:{}", env.rootfs.display()),
            "--entrypoint-binary",
            env.entrypoint.to_str().unwrap(),
            "--cache-dir",
            tmp.path().join("cache").to_str().unwrap(),
            "--output",
            &format!("oci:{}", layout.display()),
            "--push",
            "--load",
            "--json",
        ])
        .current_dir(tmp.path())
        .run();
    let v = o.json();
    let image = &v["images"][0];
    let digest = image["manifest_digest"].as_str().unwrap();
    // The layout.
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], digest, "{index}");
    assert_eq!(v["output"], layout.display().to_string());
    // The daemon: the loaded image's ID is its config digest.
    let id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", &reference]);
    assert_eq!(id.trim(), image["config_digest"].as_str().unwrap());
    assert_eq!(image["image_id"], image["config_digest"], "{image}");
    // The registry.
    assert_eq!(v["pushed"][0]["digest"], digest, "{v}");
    assert_eq!(skopeo_digest(&reference, None), digest);
    // Nothing else in the working directory.
    let mut left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["cache", "layout"]);
}

/// `build --engine docker --push --username U --password-stdin`: the password is read
/// once for the run (it used to be read again per image, and the second read got EOF).
#[test]
fn engine_push_reads_the_password_from_stdin_once() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = Command::new("htpasswd")
        .args(["-Bbn", "spark", "pw-Stdin-S3CR3T"])
        .output();
    let Ok(htpasswd) = htpasswd.map(|o| o.stdout) else {
        skip("htpasswd is not installed (apt-get install apache2-utils)");
        return;
    };
    let file = dir.path().join("htpasswd");
    std::fs::write(&file, htpasswd).unwrap();
    let Some(registry) = LoopbackRegistry::start_with(&format!(
        "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
        file.display()
    )) else {
        return;
    };
    let repo = format!("127.0.0.1:{}/stdin-{}", registry.port, std::process::id());
    let refs: Vec<String> = ["spark", "spark-py"]
        .iter()
        .map(|v| format!("{repo}/{v}:once"))
        .collect();
    let _images = Images(refs.clone());
    let out = Sparkimg::new()
        .args([
            "build",
            "--engine",
            "docker",
            "--spark-home",
            env.dist.to_str().unwrap(),
            "-r",
            &repo,
            "-t",
            "once",
            "-p",
            "--base",
            BASE,
            "--entrypoint-binary",
            env.entrypoint.to_str().unwrap(),
            "--cache-dir",
            dir.path().join("cache").to_str().unwrap(),
            "--push",
            "--username",
            "spark",
            "--password-stdin",
            "--json",
        ])
        .env("DOCKER_CONFIG", dir.path().join("no-docker-config"))
        .stdin(b"pw-Stdin-S3CR3T\n".to_vec())
        .run();
    let secrets = vec!["S3CR3T".to_string(), {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode("spark:pw-Stdin-S3CR3T")
    }];
    common::assert_output_has_no_secret(&out, &secrets);
    let v = out.json();
    let images = v["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "{v}");
    // Nor in what the daemon keeps of the images (config, labels, history, build args)
    // or in what the build wrote.
    for r in &refs {
        for what in [
            &["image", "inspect", r.as_str()][..],
            &["history", "--no-trunc", r.as_str()],
        ] {
            let o = Command::new("docker").args(what).output().unwrap();
            assert!(o.status.success(), "docker {what:?}");
            common::assert_output_has_no_secret(&o, &secrets);
        }
    }
    common::assert_tree_has_no_secret(dir.path(), std::slice::from_ref(&file), &secrets);
    for (i, r) in images.iter().zip(&refs) {
        assert_eq!(i["reference"], r.as_str());
        let digest = i["manifest_digest"].as_str().unwrap();
        assert!(digest.starts_with("sha256:"), "{i}");
        assert_eq!(skopeo_digest(r, Some("spark:pw-Stdin-S3CR3T")), digest);
    }
}

/// What an image's merged file system holds, read from `docker export` (not from
/// sparkimg's bookkeeping): every jar with its sha256 and pom.properties coordinates,
/// and the dpkg status.
struct Exported {
    /// path → (sha256, coordinates of each pom.properties)
    jars: BTreeMap<String, (String, Vec<Coordinates>)>,
    dpkg_status: String,
}

fn export(image: &str) -> Exported {
    use std::io::Read as _;
    // A command of its own: the image may have none, and it is never started.
    let id = docker_ok(&["create", image, "/nonexistent"])
        .trim()
        .to_string();
    let mut child = Command::new("docker")
        .args(["export", &id])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = Exported {
        jars: BTreeMap::new(),
        dpkg_status: String::new(),
    };
    let mut ar = tar::Archive::new(child.stdout.take().unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = format!("/{}", e.path().unwrap().display());
        if path.ends_with(".jar") && e.header().entry_type().is_file() {
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            out.jars.insert(path, (sha, poms(&bytes)));
        } else if path == "/var/lib/dpkg/status" {
            e.read_to_string(&mut out.dpkg_status).unwrap();
        }
    }
    assert!(child.wait().unwrap().success());
    docker_ok(&["rm", &id]);
    out
}

/// (groupId, artifactId, version).
type Coordinates = (String, String, String);

/// The coordinates of each pom.properties in a jar.
fn poms(jar: &[u8]) -> Vec<Coordinates> {
    use std::io::Read as _;
    let Ok(mut z) = zip::ZipArchive::new(std::io::Cursor::new(jar)) else {
        return Vec::new();
    };
    let names: Vec<String> = z
        .file_names()
        .filter(|n| n.ends_with("/pom.properties"))
        .map(String::from)
        .collect();
    let mut out = Vec::new();
    for n in names {
        let mut text = String::new();
        z.by_name(&n).unwrap().read_to_string(&mut text).unwrap();
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        out.push((get("groupId"), get("artifactId"), get("version")));
    }
    out
}

/// `build --engine docker --push --sbom both`: the images get the same SBOMs as a
/// daemonless build (every jar of the image with its sha256 and pom.properties
/// coordinates, every installed dpkg package), written to `--sbom-dir` and attached in
/// the registry as referrers of the manifest the daemon pushed, which stays as pushed;
/// `sparkimg sbom` reads them back. Without --push or --sbom-dir a hint says where the
/// SBOM went.
#[test]
fn engine_build_attaches_sboms_to_what_it_pushes() {
    let Some(env) = env() else { return };
    if !need("skopeo") {
        return;
    }
    let Some(registry) = LoopbackRegistry::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let repo = format!("127.0.0.1:{}/sbom-{}", registry.port, std::process::id());
    let reference = format!("{repo}/spark:1");
    let _images = Images(vec![reference.clone()]);
    let sboms = dir.path().join("sboms");
    let cache = dir.path().join("cache");
    let args = vec![
        "build",
        "--engine",
        "docker",
        "--spark-home",
        env.dist.to_str().unwrap(),
        "-r",
        &repo,
        "-t",
        "1",
        "--base",
        BASE,
        "--entrypoint-binary",
        env.entrypoint.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    let sbom_dir = ["--sbom", "both", "--sbom-dir", sboms.to_str().unwrap()];
    let built = Sparkimg::new()
        .args([&args[..], &sbom_dir, &["--push", "--json"]].concat())
        .json();
    let digest = built["images"][0]["manifest_digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(digest.starts_with("sha256:"), "{built}");
    // The image is as the daemon pushed it.
    assert_eq!(skopeo_digest(&reference, None), digest);

    let files: Vec<PathBuf> = std::fs::read_dir(&sboms)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let read = |suffix: &str| {
        let f = files
            .iter()
            .find(|f| f.to_string_lossy().ends_with(suffix))
            .unwrap();
        std::fs::read(f).unwrap()
    };
    let (spdx_bytes, cdx_bytes) = (read(".spdx.json"), read(".cdx.json"));

    // The referrers tag lists both documents, each referring to the pushed manifest.
    let raw = |r: &str| -> Value {
        serde_json::from_slice(&common::skopeo_raw(r, &["--tls-verify=false"])).unwrap()
    };
    let index = raw(&format!("{repo}/spark:{}", digest.replace(':', "-")));
    let list = index["manifests"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{index}");
    let sha = |b: &[u8]| {
        format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b))
        )
    };
    for (kind, bytes) in [
        ("application/spdx+json", &spdx_bytes),
        ("application/vnd.cyclonedx+json", &cdx_bytes),
    ] {
        let e = list.iter().find(|e| e["artifactType"] == kind).unwrap();
        let m = raw(&format!("{repo}/spark@{}", e["digest"].as_str().unwrap()));
        assert_eq!(m["subject"]["digest"], digest.as_str(), "{m}");
        assert_eq!(m["layers"][0]["digest"], sha(bytes).as_str(), "{m}");
    }
    let o = Sparkimg::new()
        .args(["sbom", &reference])
        .cache(&cache)
        .run();
    assert_exit(&o, exit::SUCCESS);
    assert_eq!(o.stdout, spdx_bytes);

    check_spdx_lists_the_image(&spdx_bytes, &reference);

    // Only in the daemon: nowhere to keep the SBOM but a file, which a warning says.
    let o = Sparkimg::new().args(&args).run();
    o.ok();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: the Docker Engine keeps no SBOM"),
        "{err}"
    );
}

/// Completeness of SPDX document `spdx_bytes` against the files of image `reference`:
/// every jar with its sha256 (and purl when it has one POM), every installed dpkg package.
fn check_spdx_lists_the_image(spdx_bytes: &[u8], reference: &str) {
    // Completeness against the image's files.
    let spdx: Value = serde_json::from_slice(spdx_bytes).unwrap();
    let packages = spdx["packages"].as_array().unwrap();
    let purl = |p: &Value| {
        p["externalRefs"][0]["referenceLocator"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let by_file: BTreeMap<&str, &Value> = packages
        .iter()
        .filter(|p| p["comment"].as_str() != Some("shaded into the jar"))
        .filter_map(|p| Some((p["packageFileName"].as_str()?, p)))
        .collect();
    let image = export(reference);
    assert!(image.jars.len() > 200, "{} jars", image.jars.len());
    for (path, (sum, poms)) in &image.jars {
        let p = by_file
            .get(path.as_str())
            .unwrap_or_else(|| panic!("{path} is not in the SBOM"));
        if !path.starts_with("/opt/spark/") {
            continue;
        }
        let sha256 = p["checksums"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["algorithm"] == "SHA256")
            .unwrap();
        assert_eq!(sha256["checksumValue"], sum.as_str(), "{path}");
        if let [(g, a, v)] = poms.as_slice() {
            assert_eq!(purl(p), format!("pkg:maven/{g}/{a}@{v}"), "{path}");
        }
    }
    let purls: std::collections::BTreeSet<String> = packages.iter().map(purl).collect();
    let enc = |s: &str| s.replace('+', "%2B").replace(':', "%3A");
    let mut installed = 0;
    for p in image.dpkg_status.split("\n\n") {
        let field = |k: &str| p.lines().find_map(|l| l.strip_prefix(k));
        if !field("Status: ").is_some_and(|s| s.ends_with(" installed")) {
            continue;
        }
        let (name, version) = (field("Package: ").unwrap(), field("Version: ").unwrap());
        let prefix = format!("pkg:deb/debian/{}@{}?", enc(name), enc(version));
        assert!(
            purls.iter().any(|p| p.starts_with(&prefix)),
            "{name} {version} is not in the SBOM"
        );
        installed += 1;
    }
    assert!(installed > 50, "{installed} dpkg packages");
}

/// Path → (sha256, purl) of every jar an SPDX document lists (shaded ones aside).
fn listed_jars(spdx: &Value) -> BTreeMap<String, (String, String)> {
    spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["comment"].as_str() != Some("shaded into the jar"))
        .filter_map(|p| {
            let path = p["packageFileName"].as_str()?;
            let sha256 = p["checksums"]
                .as_array()?
                .iter()
                .find(|c| c["algorithm"] == "SHA256")?["checksumValue"]
                .as_str()?;
            let purl = p["externalRefs"][0]["referenceLocator"].as_str()?;
            path.ends_with(".jar")
                .then(|| (path.to_string(), (sha256.to_string(), purl.to_string())))
        })
        .collect()
}

/// `build --engine docker -f FILE`: the user's Dockerfile copies only two of Spark's
/// jars, one third-party jar to a path of its own and the entrypoint. The SBOM lists
/// exactly the jars `docker export` finds in the image (with their sha256 and
/// pom.properties coordinates, the base's too), none of the distribution's it left out,
/// the entrypoint, and the Spark distribution (the image holds its spark-core jar).
/// Without --push it names the image by its ID.
#[test]
fn engine_sbom_of_a_user_dockerfile_lists_what_the_image_holds() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = format!("sparkimg-test-usersbom-{}", std::process::id());
    let reference = format!("{repo}/spark:1");
    let _images = Images(vec![reference.clone()]);
    let third = "HikariCP-2.5.1.jar";
    assert!(env.dist.join("jars").join(third).is_file());
    let dockerfile = dir.path().join("Dockerfile");
    std::fs::write(
        &dockerfile,
        format!(
            "ARG base_img\nFROM ${{base_img}}\n\
             COPY spark-jars/jars/spark-core_*.jar spark-jars/jars/spark-launcher_*.jar /opt/spark/jars/\n\
             COPY spark-deps/jars/{third} /opt/user/lib/\n\
             COPY spark-entrypoint /opt/spark-entrypoint\n"
        ),
    )
    .unwrap();
    let sboms = dir.path().join("sboms");
    let built = Sparkimg::new()
        .args([
            "build",
            "--engine",
            "docker",
            "-f",
            dockerfile.to_str().unwrap(),
            "--spark-home",
            env.dist.to_str().unwrap(),
            "-r",
            &repo,
            "-t",
            "1",
            "--base",
            BASE,
            "--entrypoint-binary",
            env.entrypoint.to_str().unwrap(),
            "--sbom-dir",
            sboms.to_str().unwrap(),
            "--json",
        ])
        .json();
    let image_id = built["images"][0]["image_id"].as_str().unwrap().to_string();
    let files: Vec<PathBuf> = std::fs::read_dir(&sboms)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let spdx: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();

    check_user_jars_listed(&spdx, &reference, third);
    let packages = spdx["packages"].as_array().unwrap();
    // The base's jars (ca-certificates-java, the JDK's jrt-fs) are marked as its, so a
    // rebase replaces them; the Dockerfile's are not.
    let mut base_jars = 0;
    for p in packages {
        let (Some(path), false) = (
            p["packageFileName"].as_str(),
            p["comment"] == "shaded into the jar",
        ) else {
            continue;
        };
        let in_base = p["comment"]
            .as_str()
            .is_some_and(|c| c.starts_with("in the base image"));
        if path.ends_with(".jar") {
            assert_eq!(in_base, !path.starts_with("/opt/"), "{path}: {p}");
            base_jars += usize::from(in_base);
        }
    }
    assert!(base_jars >= 2, "{base_jars} base jars");
    let named = |name: &str| packages.iter().find(|p| p["name"] == name);
    let spark = named("apache-spark").expect("the image holds spark-core: a Spark package");
    assert_eq!(spark["versionInfo"], "3.5.9");
    assert_eq!(spark["packageFileName"], "/opt/spark");
    assert!(
        packages
            .iter()
            .any(|p| p["packageFileName"] == "/opt/spark-entrypoint"),
        "no entrypoint package"
    );
    assert!(
        packages
            .iter()
            .any(|p| p["externalRefs"][0]["referenceLocator"]
                .as_str()
                .is_some_and(|u| u.starts_with("pkg:deb/debian/"))),
        "no OS packages"
    );
    // No push, so no manifest: the image is named by its ID.
    let image_pkg = packages
        .iter()
        .find(|p| p["SPDXID"] == "SPDXRef-Image")
        .unwrap();
    assert_eq!(image_pkg["versionInfo"], image_id.as_str());
}

/// The jars SPDX document `spdx` lists are exactly those of image `reference` (the
/// Dockerfile's, `third` among them), with their sha256 and purl.
fn check_user_jars_listed(spdx: &Value, reference: &str, third: &str) {
    let listed = listed_jars(spdx);
    let image = export(reference);
    let extra: Vec<&String> = listed
        .keys()
        .filter(|p| !image.jars.contains_key(*p))
        .collect();
    let missing: Vec<&String> = image
        .jars
        .keys()
        .filter(|p| !listed.contains_key(*p))
        .collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "listed but not in the image: {extra:?}; in the image but not listed: {missing:?}"
    );
    assert!(image.jars.len() >= 4, "{:?}", image.jars.keys());
    assert!(listed.contains_key(&format!("/opt/user/lib/{third}")));
    assert!(
        !listed.keys().any(|p| p.contains("spark-sql_")),
        "a jar the Dockerfile left out is listed"
    );
    for (path, (sum, poms)) in &image.jars {
        let (sha256, purl) = &listed[path];
        assert_eq!(sha256, sum, "{path}");
        if let [(g, a, v)] = poms.as_slice() {
            assert_eq!(purl, &format!("pkg:maven/{g}/{a}@{v}"), "{path}");
        }
    }
}

//! The `sparkimg` binary: stdout contract, exit codes, and a real Spark distribution
//! served from a loopback mirror.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{sha512sum_line, spark_tgz, Server};

fn sparkimg(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sparkimg"))
        .args(args)
        .env("SPARKIMG_CACHE_DIR", cache)
        .env_remove("SPARKIMG_MIRRORS")
        .output()
        .expect("run sparkimg")
}

fn json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sparkimg failed: {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().count(),
        1,
        "stdout must be one JSON line: {stdout}"
    );
    serde_json::from_str(&stdout).expect("JSON on stdout")
}

fn assert_executable(p: &Path) {
    let mode = fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "{} is not executable", p.display());
}

#[test]
fn json_output_and_plain_path() {
    let s = Server::start();
    let tgz = spark_tgz("3.3.4", "hadoop3");
    s.put("/m/spark-3.3.4/spark-3.3.4-bin-hadoop3.tgz", tgz.clone());
    s.put(
        "/m/spark-3.3.4/spark-3.3.4-bin-hadoop3.tgz.sha512",
        sha512sum_line(&tgz, "spark-3.3.4-bin-hadoop3.tgz"),
    );
    let cache = tempfile::tempdir().unwrap();
    let mirror = s.url("m");
    let args = [
        "fetch",
        "--spark-version",
        "3.3.4",
        "--mirror",
        &mirror,
        "--no-default-mirrors",
        "--json",
    ];
    let v = json(&sparkimg(&args, cache.path()));
    assert_eq!(v["version"], "3.3.4");
    assert_eq!(v["file"], "spark-3.3.4-bin-hadoop3.tgz");
    assert_eq!(v["bytes"], tgz.len() as u64);
    assert_eq!(
        v["source"],
        format!("{mirror}/spark-3.3.4/spark-3.3.4-bin-hadoop3.tgz")
    );
    assert_eq!(v["sha512"].as_str().unwrap().len(), 128);
    let home = PathBuf::from(v["path"].as_str().unwrap());
    assert_executable(&home.join("bin/spark-submit"));

    // Without --json: just the path, from the cache.
    let out = sparkimg(&args[..args.len() - 1], cache.path());
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        home.display().to_string()
    );
}

#[test]
fn exit_codes() {
    let s = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let mirror = s.url("m/");
    // Nothing on the mirror: download failure.
    let out = sparkimg(
        &[
            "fetch",
            "--spark-version",
            "3.5.3",
            "--mirror",
            &mirror,
            "--no-default-mirrors",
        ],
        cache.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    // A wrong digest: verification failure.
    let tgz = spark_tgz("3.5.3", "hadoop3");
    s.put("/m/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz", tgz);
    s.put(
        "/m/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz.sha512",
        sha512sum_line(b"other", "x"),
    );
    let out = sparkimg(
        &[
            "fetch",
            "--spark-version",
            "3.5.3",
            "--mirror",
            &mirror,
            "--no-default-mirrors",
        ],
        cache.path(),
    );
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected:") && err.contains("hint:"), "{err}");
    // Usage errors.
    assert_eq!(sparkimg(&["fetch"], cache.path()).status.code(), Some(2));
    let out = sparkimg(&["fetch", "--spark-version", "3.5"], cache.path());
    assert_eq!(out.status.code(), Some(2));
}

/// `fetch` and `build` read `--spark-version` through one grammar: a text it refuses is
/// a usage error (2) with the same message from both, before anything is downloaded.
#[test]
fn bad_versions_are_usage_errors_from_fetch_and_build() {
    let cache = tempfile::tempdir().unwrap();
    let output = format!("--output=oci:{}", cache.path().join("out").display());
    let cases = [
        ("3.x", "'3.x' is not a Spark version"),
        ("3.5", "'3.5' names a release line"),
        ("3.5.3-../../x", "is not a Spark version"),
        ("v3.5.3", "is not a Spark version"),
    ];
    for (version, needle) in cases {
        let fetch = sparkimg(&["fetch", "--spark-version", version], cache.path());
        let build = sparkimg(
            &["build", "--spark-version", version, &output],
            cache.path(),
        );
        let (fetch_err, build_err) = (
            String::from_utf8_lossy(&fetch.stderr),
            String::from_utf8_lossy(&build.stderr),
        );
        assert_eq!(fetch.status.code(), Some(2), "fetch {version}: {fetch_err}");
        assert_eq!(build.status.code(), Some(2), "build {version}: {build_err}");
        assert!(fetch_err.contains(needle), "fetch {version}: {fetch_err}");
        assert_eq!(fetch_err, build_err, "{version}");
        assert!(fetch.stdout.is_empty() && build.stdout.is_empty());
    }
    // What each command cannot serve, in its own words, still a usage error.
    let fetch = sparkimg(&["fetch", "--spark-version", "1.6.3"], cache.path());
    assert_eq!(fetch.status.code(), Some(2));
    let build = sparkimg(
        &["build", "--spark-version", "1.6.3", &output],
        cache.path(),
    );
    assert_eq!(build.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&build.stderr).contains("from Spark 2.3 on"));
    assert!(!cache.path().join("out").exists());
}

/// The distribution assembled by `cargo xtask fixtures` from PyPI's pyspark sdist.
fn fixture_dist() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SPARKIMG_FIXTURE_DIST") {
        return Some(PathBuf::from(p));
    }
    let tgz = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/fixtures/dist")
        .join(format!("{}.tgz", common::FIXTURE_DIST));
    tgz.is_file().then_some(tgz)
}

#[test]
fn real_spark_distribution_through_local_mirror() {
    let Some(dist) = fixture_dist() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no fixture: run `cargo xtask fixtures` or set SPARKIMG_FIXTURE_DIST"
        );
        eprintln!(
            "\n\n*** SKIPPED real_spark_distribution_through_local_mirror: no fixture \
             (run `cargo xtask fixtures` or set SPARKIMG_FIXTURE_DIST) ***\n"
        );
        return;
    };
    let file = dist.file_name().unwrap().to_str().unwrap().to_string();
    let version = file
        .strip_prefix("spark-")
        .and_then(|r| r.strip_suffix("-bin-hadoop3.tgz"))
        .expect("spark-<v>-bin-hadoop3.tgz")
        .to_string();
    let s = Server::start();
    s.put(
        &format!("/m/spark-{version}/{file}"),
        fs::read(&dist).unwrap(),
    );
    let sha = fs::read(format!("{}.sha512", dist.display())).expect("fixture .sha512");
    s.put(&format!("/m/spark-{version}/{file}.sha512"), sha);

    let cache = tempfile::tempdir().unwrap();
    let mirror = s.url("m/");
    let args = [
        "fetch",
        "--spark-version",
        &version,
        "--mirror",
        &mirror,
        "--no-default-mirrors",
        "--json",
    ];
    let v = json(&sparkimg(&args, cache.path()));
    let home = PathBuf::from(v["path"].as_str().unwrap());
    assert_executable(&home.join("bin/spark-submit"));
    let jars = fs::read_dir(home.join("jars")).expect("jars/").count();
    assert!(jars > 50, "only {jars} jars");
    assert_eq!(v["bytes"], fs::metadata(&dist).unwrap().len());
}

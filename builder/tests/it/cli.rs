//! The `sparkimg` binary: stdout contract, exit codes, and a real Spark distribution
//! served from a loopback mirror.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common;
use crate::common::{assert_exit, sha512sum_line, spark_tgz, Ran, Server, Sparkimg};
use sparkimg::exit;

/// A successful run's stdout, which must be one line of JSON.
fn one_json_line(out: &Output) -> serde_json::Value {
    let stdout = out.ok().stdout_text();
    assert_eq!(
        stdout.lines().count(),
        1,
        "stdout must be one JSON line: {stdout}"
    );
    out.json()
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
    let v = one_json_line(&Sparkimg::new().args(args).cache(cache.path()).run());
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
    let out = Sparkimg::new()
        .args(&args[..args.len() - 1])
        .cache(cache.path())
        .run();
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
    let out = Sparkimg::new()
        .args([
            "fetch",
            "--spark-version",
            "3.5.3",
            "--mirror",
            &mirror,
            "--no-default-mirrors",
        ])
        .cache(cache.path())
        .run();
    assert_exit(&out, exit::DOWNLOAD);
    assert!(out.stdout.is_empty());
    // A wrong digest: verification failure.
    let tgz = spark_tgz("3.5.3", "hadoop3");
    s.put("/m/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz", tgz);
    s.put(
        "/m/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz.sha512",
        sha512sum_line(b"other", "x"),
    );
    let out = Sparkimg::new()
        .args([
            "fetch",
            "--spark-version",
            "3.5.3",
            "--mirror",
            &mirror,
            "--no-default-mirrors",
        ])
        .cache(cache.path())
        .run();
    assert_exit(&out, exit::VERIFICATION);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected:") && err.contains("hint:"), "{err}");
    // Usage errors.
    assert_exit(
        &Sparkimg::new().args(["fetch"]).cache(cache.path()).run(),
        exit::USAGE,
    );
    let out = Sparkimg::new()
        .args(["fetch", "--spark-version", "3.5"])
        .cache(cache.path())
        .run();
    assert_exit(&out, exit::USAGE);
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
        let fetch = Sparkimg::new()
            .args(["fetch", "--spark-version", version])
            .cache(cache.path())
            .run();
        let build = Sparkimg::new()
            .args(["build", "--spark-version", version, &output])
            .cache(cache.path())
            .run();
        let (fetch_err, build_err) = (
            String::from_utf8_lossy(&fetch.stderr),
            String::from_utf8_lossy(&build.stderr),
        );
        assert_eq!(
            fetch.status.code(),
            Some(exit::USAGE.into()),
            "fetch {version}: {fetch_err}"
        );
        assert_eq!(
            build.status.code(),
            Some(exit::USAGE.into()),
            "build {version}: {build_err}"
        );
        assert!(fetch_err.contains(needle), "fetch {version}: {fetch_err}");
        assert_eq!(fetch_err, build_err, "{version}");
        assert!(fetch.stdout.is_empty() && build.stdout.is_empty());
    }
    // What each command cannot serve, in its own words, still a usage error.
    let fetch = Sparkimg::new()
        .args(["fetch", "--spark-version", "1.6.3"])
        .cache(cache.path())
        .run();
    assert_exit(&fetch, exit::USAGE);
    let build = Sparkimg::new()
        .args(["build", "--spark-version", "1.6.3", &output])
        .cache(cache.path())
        .run();
    assert_exit(&build, exit::USAGE);
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
        common::skip("no fixture: run `cargo xtask fixtures` or set SPARKIMG_FIXTURE_DIST");
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
    let v = one_json_line(&Sparkimg::new().args(args).cache(cache.path()).run());
    let home = PathBuf::from(v["path"].as_str().unwrap());
    assert_executable(&home.join("bin/spark-submit"));
    let jars = fs::read_dir(home.join("jars")).expect("jars/").count();
    assert!(jars > 50, "only {jars} jars");
    assert_eq!(v["bytes"], fs::metadata(&dist).unwrap().len());
}

/// The shape of what `sparkimg` prints on stderr when it fails, pinned: one
/// `sparkimg: error:` line (its causes once each), then at most one `hint:` line of its
/// own; and the quiet end of a closed stdout, and `--version`.
mod error_shape {
    use std::io::Read;
    use std::path::Path;
    use std::process::{Output, Stdio};

    use super::{sha512sum_line, spark_tgz, Server, Sparkimg};

    fn sparkimg(args: &[&str], cache: &Path) -> Output {
        Sparkimg::new().args(args).cache(cache).run()
    }

    /// Checks the pinned shape and gives the error text and the hint.
    fn shape(stderr: &[u8]) -> (String, Option<String>) {
        let text = String::from_utf8_lossy(stderr);
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("sparkimg: error: "))
            .collect();
        assert_eq!(errors.len(), 1, "one error line: {text}");
        let after = &text[text.find("sparkimg: error: ").unwrap_or(0)..];
        let hints: Vec<&str> = after.lines().filter(|l| l.starts_with("hint: ")).collect();
        assert!(hints.len() <= 1, "at most one hint line: {text}");
        assert_eq!(
            text.matches("hint:").count(),
            hints.len(),
            "hints inline: {text}"
        );
        let error = after.split("\nhint: ").next().unwrap_or("").trim_end();
        let causes: Vec<&str> = error.lines().next().unwrap_or("").split(": ").collect();
        for (i, c) in causes.iter().enumerate().skip(2) {
            assert!(!causes[..i].contains(c), "'{c}' twice: {text}");
        }
        let error = error.trim_start_matches("sparkimg: error: ").to_string();
        (
            error,
            hints.first().map(|h| h["hint: ".len()..].to_string()),
        )
    }

    #[test]
    fn an_io_error_names_its_cause_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        // A cache dir under a regular file: creating it fails for root too.
        let out = sparkimg(&["fetch", "--spark-version", "3.5.3"], &file.join("cache"));
        assert_eq!(out.status.code(), Some(1));
        let (error, hint) = shape(&out.stderr);
        assert!(error.starts_with("creating cache dir "), "{error}");
        assert_eq!(error.matches("Not a directory").count(), 1, "{error}");
        assert_eq!(hint, None);
    }

    #[test]
    fn a_hint_is_printed_once_on_its_own_line() {
        let cache = tempfile::tempdir().unwrap();
        let out = sparkimg(
            &["fetch", "--spark-version", "3.5.3", "--no-default-mirrors"],
            cache.path(),
        );
        let (error, hint) = shape(&out.stderr);
        assert_eq!(error, "no mirrors to try");
        assert_eq!(
            hint.as_deref(),
            Some("pass --mirror URL or set SPARKIMG_MIRRORS")
        );
        // A failure on every mirror: each failure listed, the hint once after them.
        let s = Server::start();
        let tgz = spark_tgz("3.5.3", "hadoop3");
        s.put("/m/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz", tgz);
        s.put(
            "/m/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz.sha512",
            sha512sum_line(b"other", "x"),
        );
        let mirror = s.url("m/");
        let args = ["fetch", "--spark-version", "3.5.3", "--mirror", &mirror];
        let out = sparkimg(
            &[&args[..], &["--no-default-mirrors"]].concat(),
            cache.path(),
        );
        assert_eq!(out.status.code(), Some(3));
        let (error, hint) = shape(&out.stderr);
        assert!(error.starts_with("SHA-512 mismatch for "), "{error}");
        assert!(hint.is_some_and(|h| h.starts_with("the mirror may be serving")));
    }

    #[test]
    fn a_usage_error_is_exit_2_with_its_hint() {
        let dir = tempfile::tempdir().unwrap();
        let out = sparkimg(
            &["rebase", "oci:/nonexistent", "--base", "oci:/x"],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(2));
        let (error, hint) = shape(&out.stderr);
        assert_eq!(error, "nowhere to put the rebased image");
        assert_eq!(hint.as_deref(), Some("pass --output OUT and/or --push"));
        let out = sparkimg(&["push", "oci:/a", "oci:/b"], dir.path());
        assert_eq!(out.status.code(), Some(2));
        let (error, hint) = shape(&out.stderr);
        assert!(error.starts_with("unexpected argument 'oci:/b'"), "{error}");
        assert_eq!(hint, None);
    }

    /// `sparkimg cache ls | head -0`: the reader is gone before sparkimg writes; it ends
    /// quietly, with success, as a Unix filter does.
    #[test]
    fn a_closed_stdout_ends_quietly() {
        let cache = tempfile::tempdir().unwrap();
        let mut child = Sparkimg::new()
            .args(["cache", "ls"])
            .cache(cache.path())
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run sparkimg");
        drop(child.stdout.take());
        let mut stderr = String::new();
        let mut pipe = child.stderr.take().expect("stderr");
        pipe.read_to_string(&mut stderr).expect("read stderr");
        let status = child.wait().expect("wait");
        assert!(status.success(), "{status:?}: {stderr}");
        assert_eq!(stderr, "");
    }

    #[test]
    fn version_and_verbose_version() {
        let dir = tempfile::tempdir().unwrap();
        let out = sparkimg(&["--version"], dir.path());
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.trim(),
            format!("sparkimg {}", env!("CARGO_PKG_VERSION"))
        );
        for flag in ["-V", "--version"] {
            let out = sparkimg(&[flag, "--verbose"], dir.path());
            assert!(out.status.success());
            let text = String::from_utf8_lossy(&out.stdout);
            // The backend gzip layers are written with, as build.rs chose it.
            let gzip = if cfg!(sparkimg_isal) {
                "\ngzip: isal-0.5.3+496255c for layers (isal-sys 0.5.3+496255c; flate2 "
            } else {
                "\ngzip: flate2-zlib-rs for layers (ISA-L not built"
            };
            for needle in [
                gzip,
                ", zlib-rs ",
                "\nzstd: zstd ",
                "(libzstd 1.",
                "\ntls: rustls ",
                "(aws-lc-rs ",
                "\nhash: aws-lc-rs ",
                "\ntarget: ",
            ] {
                assert!(text.contains(needle), "{needle}: {text}");
            }
            // build.rs found every crate in Cargo.lock.
            assert!(!text.contains(" unknown"), "{text}");
        }
    }
}

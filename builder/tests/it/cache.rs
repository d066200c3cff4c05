//! `sparkimg cache ls/prune`, the start-up sweep of dead processes' leftovers and the
//! cache locks, with real `sparkimg` processes: one kept alive holding its locks (it
//! blocks reading a FIFO given as `--dist`), then killed with SIGKILL.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::common;
use crate::common::{assert_exit, sha512sum_line, spark_tgz, Ran, Sparkimg};
use sparkimg::exit;

/// A local distribution `spark-V-bin-hadoop3.tgz` with its `.sha512`, in `dir`.
fn dist(dir: &Path, version: &str) -> PathBuf {
    let name = format!("spark-{version}-bin-hadoop3.tgz");
    let tgz = spark_tgz(version, "hadoop3");
    let path = dir.join(&name);
    fs::write(&path, &tgz).unwrap();
    fs::write(
        dir.join(format!("{name}.sha512")),
        sha512sum_line(&tgz, &name),
    )
    .unwrap();
    path
}

fn set_age(path: &Path, age: Duration) {
    let f = File::open(path).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

fn kind_total(ls: &serde_json::Value, kind: &str) -> (u64, u64) {
    ls["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == kind)
        .map_or((0, 0), |k| {
            (k["entries"].as_u64().unwrap(), k["bytes"].as_u64().unwrap())
        })
}

#[test]
fn ls_by_kind_and_prune_by_age_count_and_all() {
    let src = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path();
    let old = dist(src.path(), "3.4.4");
    let new = dist(src.path(), "3.5.3");
    let old_home = Sparkimg::new()
        .args(["fetch", "--json", "--dist", old.to_str().unwrap()])
        .cache(c)
        .json();
    let new_home = Sparkimg::new()
        .args(["fetch", "--json", "--dist", new.to_str().unwrap()])
        .cache(c)
        .json();
    let (old_sha, new_sha) = (
        old_home["sha512"].as_str().unwrap(),
        new_home["sha512"].as_str().unwrap(),
    );

    let ls = Sparkimg::new()
        .args(["cache", "ls", "--json"])
        .cache(c)
        .json();
    let tar_bytes = fs::metadata(&old).unwrap().len() + fs::metadata(&new).unwrap().len();
    assert_eq!(kind_total(&ls, "tarballs"), (2, tar_bytes), "{ls}");
    let (n, bytes) = kind_total(&ls, "dists");
    assert_eq!(n, 2);
    assert!(bytes > 800_000, "two dists of ~400 kB each: {bytes}");
    assert_eq!(ls["leftovers"].as_array().unwrap().len(), 0, "{ls}");
    let table = Sparkimg::new()
        .args(["cache", "ls"])
        .cache(c)
        .ok()
        .stdout_text();
    assert!(
        table.contains("dists") && table.contains("tarballs") && table.contains("total"),
        "{table}"
    );

    // The old release last used two days ago; a dry run removes nothing.
    set_age(
        &c.join("dists").join(old_sha),
        Duration::from_secs(48 * 3600),
    );
    set_age(
        &c.join("blobs/sha512").join(old_sha),
        Duration::from_secs(48 * 3600),
    );
    let dry = Sparkimg::new()
        .args([
            "cache",
            "prune",
            "--older-than",
            "1d",
            "--dry-run",
            "--json",
        ])
        .cache(c)
        .json();
    assert_eq!(dry["entries"]["count"], 2, "{dry}");
    assert!(c.join("dists").join(old_sha).is_dir());

    let p = Sparkimg::new()
        .args(["cache", "prune", "--older-than", "1d", "--json"])
        .cache(c)
        .json();
    assert_eq!(p["entries"]["count"], 2, "{p}");
    assert!(!c.join("dists").join(old_sha).exists());
    assert!(!c.join("blobs/sha512").join(old_sha).exists());
    assert!(c.join("dists").join(new_sha).join("RELEASE").is_file());
    // Nothing half-removed stays behind (folders go through tmp/.prune-*).
    assert_eq!(fs::read_dir(c.join("tmp")).unwrap().count(), 0);

    // Fetched again: the newest per kind is kept by --keep-last 1.
    Sparkimg::new()
        .args(["fetch", "--dist", old.to_str().unwrap()])
        .cache(c)
        .ok();
    set_age(&c.join("dists").join(new_sha), Duration::from_secs(3600));
    set_age(
        &c.join("blobs/sha512").join(new_sha),
        Duration::from_secs(3600),
    );
    let p = Sparkimg::new()
        .args(["cache", "prune", "--keep-last", "1", "--json"])
        .cache(c)
        .json();
    assert_eq!(p["entries"]["count"], 2, "{p}");
    assert!(c.join("dists").join(old_sha).is_dir() && !c.join("dists").join(new_sha).exists());

    let p = Sparkimg::new()
        .args(["cache", "prune", "--all", "--json"])
        .cache(c)
        .json();
    assert_eq!(p["kept"]["count"], 0, "{p}");
    let ls = Sparkimg::new()
        .args(["cache", "ls", "--json"])
        .cache(c)
        .json();
    assert_eq!(ls["entries"].as_array().unwrap().len(), 0, "{ls}");
    // The cache still works after a full prune.
    let again = Sparkimg::new()
        .args(["fetch", "--json", "--dist", old.to_str().unwrap()])
        .cache(c)
        .json();
    assert_eq!(again["sha512"], old_sha);
    assert_eq!(again["cached"], false);
}

/// A `sparkimg fetch` that holds the session and the artifact lock of `fifo`'s file
/// name until killed: it blocks opening the FIFO for reading.
fn live_holder(fifo: &Path, cache: &Path) -> Child {
    let st = Command::new("mkfifo").arg(fifo).status().expect("mkfifo");
    assert!(st.success());
    let name = fifo.file_name().unwrap().to_str().unwrap();
    fs::write(
        format!("{}.sha512", fifo.display()),
        format!("{}  {name}\n", "ab".repeat(64)),
    )
    .unwrap();
    let child = Sparkimg::new()
        .args(["fetch", "--dist", fifo.to_str().unwrap()])
        .cache(cache)
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = cache.join("locks").join(format!("k-{name}.lock"));
    let start = Instant::now();
    // Its artifact lock file appears just before it blocks on the FIFO.
    while !lock.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "holder never locked"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child
}

/// What a process killed mid-run leaves: every kind of write in progress.
fn plant_leftovers(c: &Path) -> Vec<(PathBuf, bool)> {
    let day = Duration::from_secs(24 * 3600);
    let mut made = Vec::new();
    let mut file = |rel: &str, age: Duration, kept_by_sweep: bool| {
        let p = c.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, vec![7u8; 1000]).unwrap();
        set_age(&p, age);
        made.push((p, kept_by_sweep));
    };
    file("tmp/extract-dead/root/spark/RELEASE", Duration::ZERO, false);
    file("tmp/.tmpIdx01", Duration::ZERO, false);
    file("partial/sha512-young.part", Duration::from_secs(60), true);
    file("partial/sha512-stale.part", day * 2, false);
    file("build/blobs/sha256/.tmp-layer-Ab12", Duration::ZERO, false);
    file("build/layers/.tmpK3y", Duration::ZERO, false);
    file(
        "registry/images/.pull-Xy/blobs/sha256/aa",
        Duration::ZERO,
        false,
    );
    file(
        "registry/blobs/sha256/abcd.partial",
        Duration::from_secs(60),
        true,
    );
    file("registry/.tmpHints", Duration::ZERO, false);
    file("apt/sha256/.tmpDeb", Duration::ZERO, false);
    made.iter()
        .map(|(p, k)| (leftover_root(c, p), *k))
        .collect()
}

/// The path a leftover is listed and removed by: its first component below its folder.
fn leftover_root(c: &Path, p: &Path) -> PathBuf {
    let rel = p.strip_prefix(c).unwrap();
    let comps: Vec<_> = rel.components().collect();
    let depth = comps
        .iter()
        .position(|x| {
            let s = x.as_os_str().to_string_lossy();
            s.starts_with(".tmp") || s.starts_with(".pull-") || s.ends_with(".partial")
        })
        .unwrap_or(1);
    comps[..=depth]
        .iter()
        .fold(c.to_path_buf(), |acc, x| acc.join(x))
}

#[test]
fn live_locks_are_named_and_time_out_dead_leftovers_are_swept() {
    if !common::need("mkfifo") {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path();
    let real = dist(src.path(), "3.5.3");
    let fifo = src.path().join("spark-9.9.9-bin-hadoop3.tgz");
    let mut holder = live_holder(&fifo, c);
    let pid = holder.id();
    let leftovers = plant_leftovers(c);

    // While it lives, another command sweeps nothing: the writes may be its own.
    Sparkimg::new()
        .args(["fetch", "--dist", real.to_str().unwrap()])
        .cache(c)
        .ok();
    for (p, _) in &leftovers {
        assert!(
            p.exists(),
            "{} removed while a sparkimg process was live",
            p.display()
        );
    }
    let ls = Sparkimg::new()
        .args(["cache", "ls", "--json"])
        .cache(c)
        .json();
    assert_eq!(
        ls["leftovers"].as_array().unwrap().len(),
        leftovers.len(),
        "{ls}"
    );

    // The same artifact: waits, names the holder, gives up after --lock-timeout.
    let t0 = Instant::now();
    let out = Sparkimg::new()
        .args([
            "fetch",
            "--dist",
            fifo.to_str().unwrap(),
            "--lock-timeout",
            "1s",
        ])
        .cache(c)
        .run();
    let waited = t0.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_exit(&out, exit::OTHER);
    let who = format!("held by pid {pid} (sparkimg fetch)");
    assert!(
        err.contains("waiting for another sparkimg process to finish"),
        "{err}"
    );
    assert!(err.contains(&who), "{err}");
    assert!(
        err.contains("error: timed out after 1s") && err.contains("hint:"),
        "{err}"
    );
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(20),
        "{waited:?}"
    );
    // A prune waits for every command using the cache.
    let out = Sparkimg::new()
        .args(["cache", "prune", "--all", "--lock-timeout", "500ms"])
        .cache(c)
        .run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_exit(&out, exit::OTHER);
    assert!(
        err.contains(&who) && err.contains("timed out after 500ms"),
        "{err}"
    );
    assert!(
        c.join("dists").read_dir().unwrap().count() > 0,
        "prune removed entries"
    );

    holder.kill().unwrap();
    holder.wait().unwrap();
    // The next command that uses the cache sweeps what the dead process left, except
    // downloads young enough to resume.
    let out = Sparkimg::new()
        .args(["fetch", "--dist", real.to_str().unwrap()])
        .cache(c)
        .run();
    out.ok();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("leftover(s) of interrupted runs"), "{err}");
    for (p, kept) in &leftovers {
        assert_eq!(p.exists(), *kept, "{}", p.display());
    }
    let p = Sparkimg::new()
        .args(["cache", "prune", "--json"])
        .cache(c)
        .json();
    assert_eq!(p["leftovers"]["count"], 2, "{p}");
    assert_eq!(p["entries"]["count"], 0, "{p}");
    for (p, _) in &leftovers {
        assert!(!p.exists(), "{}", p.display());
    }
    let ls = Sparkimg::new()
        .args(["cache", "ls", "--json"])
        .cache(c)
        .json();
    assert_eq!(ls["leftovers"].as_array().unwrap().len(), 0, "{ls}");
    assert_eq!(kind_total(&ls, "dists").0, 1, "{ls}");
}

#[test]
fn lock_timeout_is_a_duration() {
    let cache = tempfile::tempdir().unwrap();
    let out = Sparkimg::new()
        .args(["cache", "ls", "--lock-timeout", "soon"])
        .cache(cache.path())
        .run();
    assert_exit(&out, exit::USAGE);
    let out = Sparkimg::new()
        .args(["cache", "prune", "--all", "--older-than", "1d"])
        .cache(cache.path())
        .run();
    assert_exit(&out, exit::USAGE);
}

/// `rebase`, `outdated` and `packages` write into the cache too (pulls, downloaded
/// jars), so each holds a session like `fetch` and `build`: its start-up sweep removes a
/// dead process's leftovers (and, while it runs, no other command's sweep takes its
/// writes in progress for leftovers). Each is given inputs that fail after that point.
#[test]
fn every_command_that_writes_the_cache_holds_a_session() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let missing = t.join("missing");
    let image = format!("oci:{}", missing.display());
    let out = format!("oci:{}", t.join("out").display());
    let runs: [&[&str]; 3] = [
        &["rebase", &image, "--base", &image, "--output", &out],
        &["outdated", &image],
        &[
            "packages",
            "--packages",
            "org.example:x:1",
            "--repositories",
            "http://127.0.0.1:1/",
        ],
    ];
    for args in runs {
        let cache = tempfile::tempdir().unwrap();
        let leftover = cache.path().join("tmp/.tmpDead");
        fs::create_dir_all(leftover.parent().unwrap()).unwrap();
        fs::write(&leftover, b"left by a killed run").unwrap();
        let o = Sparkimg::new().args(args).cache(cache.path()).run();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?}: {err}");
        assert!(
            err.contains("removed 1 leftover(s) of interrupted runs"),
            "{args:?} did not open a cache session: {err}"
        );
        assert!(!leftover.exists(), "{args:?}");
    }
}

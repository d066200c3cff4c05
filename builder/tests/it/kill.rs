//! Kill anywhere: `sparkimg fetch` (from a loopback mirror) and `sparkimg build` (a
//! daemonless build into an OCI layout) are killed with SIGKILL at 20 points spread
//! over an uninterrupted run's duration, each in a cache of its own. After each kill a
//! rerun must succeed with the digests of the uninterrupted run, every blob in the
//! cache must hash to its name, and the rerun must leave no leftovers in the cache.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256, Sha512};

use crate::common;
use crate::common::{assert_exit, noise, sha512sum_line, KillClock, Ran, Server, Sparkimg};
use sparkimg::exit;

const POINTS: u32 = 20;

/// `sparkimg ARGS` on cache `cache`, at a fixed build epoch.
fn killable(args: &[String], cache: &Path) -> Sparkimg {
    Sparkimg::new()
        .args(args)
        .cache(cache)
        .env("SOURCE_DATE_EPOCH", "1700000000")
}

/// Starts `cmd`, SIGKILLs it after `at`; whether it was still running then.
fn kill_at(mut cmd: Command, at: Duration) -> bool {
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(at);
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    running
}

/// Every cached blob hashes to its name (tarballs sha512, layers sha256); temp files
/// of the killed process are skipped here (the rerun's sweep must remove them).
fn check_blobs(cache: &Path) -> usize {
    let mut n = 0;
    for (dir, sha512) in [("blobs/sha512", true), ("build/blobs/sha256", false)] {
        let Ok(rd) = fs::read_dir(cache.join(dir)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let bytes = fs::read(e.path()).unwrap();
            let hex = match sha512 {
                true => hex::encode(Sha512::digest(&bytes)),
                false => hex::encode(Sha256::digest(&bytes)),
            };
            assert_eq!(hex, name, "corrupt cache entry {}", e.path().display());
            n += 1;
        }
    }
    n
}

fn no_leftovers(cache: &Path) {
    let out = killable(&["cache".into(), "ls".into(), "--json".into()], cache).run();
    let v = out.json();
    assert_eq!(v["leftovers"], serde_json::json!([]), "{v}");
}

/// A Spark-shaped distribution of ~24 MB of incompressible jars, so a fetch takes long
/// enough to be killed at many points.
fn big_tgz() -> Vec<u8> {
    let top = "spark-3.5.3-bin-hadoop3";
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, format!("{top}/{path}"), data)
            .unwrap();
    };
    add("RELEASE", b"Spark 3.5.3 built for Hadoop 3\n");
    for i in 0..3 {
        add(&format!("jars/j{i}.jar"), &noise(8 << 20, i));
    }
    b.into_inner().unwrap().finish().unwrap()
}

#[test]
fn fetch_killed_anywhere_reruns_to_the_same_digest() {
    let s = Server::start();
    let tgz = big_tgz();
    let name = "spark-3.5.3-bin-hadoop3.tgz";
    s.put(&format!("/m/spark-3.5.3/{name}"), tgz.clone());
    s.put(
        &format!("/m/spark-3.5.3/{name}.sha512"),
        sha512sum_line(&tgz, name),
    );
    let args: Vec<String> = [
        "fetch",
        "--spark-version",
        "3.5.3",
        "--no-default-mirrors",
        "--json",
        "--mirror",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([s.url("m")])
    .collect();
    let mut want = serde_json::Value::Null;
    let calibration: Vec<Duration> = (0..3)
        .map(|_| {
            let reference = tempfile::tempdir().unwrap();
            let t0 = Instant::now();
            want = killable(&args, reference.path()).json();
            t0.elapsed()
        })
        .collect();
    let mut clock = KillClock::new(&calibration, POINTS);
    for i in 1..=POINTS {
        let at = clock.at(i);
        let cache = tempfile::tempdir().unwrap();
        clock.record(kill_at(killable(&args, cache.path()).command(), at));
        check_blobs(cache.path());
        let got = killable(&args, cache.path()).json();
        assert_eq!(got["sha512"], want["sha512"], "after a kill at {at:?}");
        let home = PathBuf::from(got["path"].as_str().unwrap());
        assert_eq!(
            fs::read(home.join("jars/j2.jar")).unwrap(),
            noise(8 << 20, 2)
        );
        assert!(check_blobs(cache.path()) >= 1);
        no_leftovers(cache.path());
    }
    let killed = clock.landed;
    eprintln!(
        "fetch: {killed} of {POINTS} kills landed mid-run (uninterrupted runs {calibration:?})"
    );
    assert!(
        killed >= POINTS * 3 / 4,
        "only {killed} kills landed mid-run"
    );
}

/// A base rootfs with Java, a distribution with ~9 MB of jars, an entrypoint file.
fn build_inputs(dir: &Path) -> Vec<String> {
    let home = dir.join("spark");
    let files: Vec<(String, Vec<u8>, u32)> = vec![
        (
            "RELEASE".into(),
            b"Spark 3.5.3 built for Hadoop 3.3.4\n".to_vec(),
            0o644,
        ),
        ("bin/spark-submit".into(), b"#!/bin/sh\n".to_vec(), 0o755),
        (
            "jars/spark-core_2.12-3.5.3.jar".into(),
            noise(8 << 20, 7),
            0o644,
        ),
        ("jars/a.jar".into(), noise(8 << 20, 8), 0o644),
        ("jars/b.jar".into(), noise(8 << 20, 9), 0o644),
    ];
    for (p, b, m) in &files {
        let f = home.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(&f, b).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&f, fs::Permissions::from_mode(*m)).unwrap();
    }
    let mut b = tar::Builder::new(Vec::new());
    for (p, data, mode) in [
        ("etc/passwd", &b"root:x:0:0:root:/root:/bin/sh\n"[..], 0o644),
        ("usr/lib/jvm/jre-17/bin/java", b"#!/bin/sh\n", 0o755),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, p, data).unwrap();
    }
    let base = dir.join("base.tar");
    fs::File::create(&base)
        .unwrap()
        .write_all(&b.into_inner().unwrap())
        .unwrap();
    let ep = dir.join("spark-entrypoint");
    fs::write(&ep, b"\x7fELF not really").unwrap();
    [
        "build",
        "--name",
        "kill/spark:1",
        "--sbom",
        "spdx",
        "--json",
        "--spark-home",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([
        home.display().to_string(),
        "--base".into(),
        format!("rootfs:{}", base.display()),
        "--entrypoint-binary".into(),
        ep.display().to_string(),
    ])
    .collect()
}

fn digest_of(out_dir: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(out_dir.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn build_killed_anywhere_reruns_to_the_same_digest() {
    let inputs = tempfile::tempdir().unwrap();
    let args = build_inputs(inputs.path());
    let with_out = |dir: &Path| {
        let mut a = args.clone();
        a.extend([
            "--output".into(),
            format!("oci:{}", dir.join("out").display()),
        ]);
        a
    };
    let mut want = String::new();
    let calibration: Vec<Duration> = (0..3)
        .map(|_| {
            let reference = tempfile::tempdir().unwrap();
            let t0 = Instant::now();
            killable(&with_out(reference.path()), &reference.path().join("cache")).ok();
            let took = t0.elapsed();
            want = digest_of(&reference.path().join("out"));
            took
        })
        .collect();
    let mut clock = KillClock::new(&calibration, POINTS);
    for i in 1..=POINTS {
        let at = clock.at(i);
        let run = tempfile::tempdir().unwrap();
        let cache = run.path().join("cache");
        clock.record(kill_at(
            killable(&with_out(run.path()), &cache).command(),
            at,
        ));
        check_blobs(&cache);
        killable(&with_out(run.path()), &cache).ok();
        assert_eq!(
            digest_of(&run.path().join("out")),
            want,
            "after a kill at {at:?}"
        );
        assert!(check_blobs(&cache) >= 3);
        no_leftovers(&cache);
        // Beside the output only the output itself (its staging is renamed or removed).
        let beside: Vec<_> = fs::read_dir(run.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "cache" && n != "out")
            .collect();
        assert!(
            beside.is_empty(),
            "left beside the output after a kill at {at:?}: {beside:?}"
        );
    }
    let killed = clock.landed;
    eprintln!(
        "build: {killed} of {POINTS} kills landed mid-run (uninterrupted runs {calibration:?})"
    );
    assert!(
        killed >= POINTS * 3 / 4,
        "only {killed} kills landed mid-run"
    );
}

/// Layer digests a `build --json` built itself (not from the cache).
fn built_layers(v: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for img in v["images"].as_array().into_iter().flatten() {
        for l in img["layers"].as_array().into_iter().flatten() {
            if l["cached"] == false {
                out.push(l["digest"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    for l in v["layers"].as_array().into_iter().flatten() {
        if l["cached"] == false {
            out.push(l["digest"].as_str().unwrap_or_default().to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn two_concurrent_builds_of_one_image_both_succeed_and_build_each_layer_once() {
    let inputs = tempfile::tempdir().unwrap();
    let args = build_inputs(inputs.path());
    let run = tempfile::tempdir().unwrap();
    let cache = run.path().join("cache");
    let start = |out: &str| {
        let mut a = args.clone();
        a.extend([
            "--output".into(),
            format!("oci:{}", run.path().join(out).display()),
        ]);
        killable(&a, &cache).command().spawn().unwrap()
    };
    let (a, b) = (start("a"), start("b"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (va, vb) = (a.json(), b.json());
    assert_eq!(
        digest_of(&run.path().join("a")),
        digest_of(&run.path().join("b"))
    );
    let (la, lb) = (built_layers(&va), built_layers(&vb));
    assert!(!la.is_empty() || !lb.is_empty(), "{va}\n{vb}");
    for d in &la {
        assert!(
            !lb.contains(d),
            "layer {d} built by both builds:\n{va}\n{vb}"
        );
    }
    check_blobs(&cache);
    no_leftovers(&cache);
}

#[test]
fn a_full_cache_file_system_is_a_clear_error_and_leaves_no_entry() {
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    if !root {
        common::skip("mounting a small tmpfs needs root");
        return;
    }
    if !common::need("unshare") {
        return;
    }
    let s = Server::start();
    let tgz = big_tgz();
    let name = "spark-3.5.3-bin-hadoop3.tgz";
    s.put(&format!("/m/spark-3.5.3/{name}"), tgz.clone());
    s.put(
        &format!("/m/spark-3.5.3/{name}.sha512"),
        sha512sum_line(&tgz, name),
    );
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    fs::create_dir(&cache).unwrap();
    let listing = dir.path().join("listing");
    // A private mount namespace: an 8 MB tmpfs as the cache, listed before it goes.
    let script = r#"mount -t tmpfs -o size=8m tmpfs "$1" || exit 99
"$2" fetch --spark-version 3.5.3 --no-default-mirrors --mirror "$3" --cache-dir "$1"
rc=$?
find "$1" -type f ! -path "*/locks/*" > "$4"
exit $rc"#;
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", script, "sh"])
        .arg(&cache)
        .arg(common::BIN)
        .arg(s.url("m"))
        .arg(&listing)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_exit(&out, exit::OTHER);
    let want = format!(
        "no space left on the file system holding {}/partial/",
        cache.display()
    );
    assert!(err.contains(&want), "{err}");
    assert!(
        err.contains(&format!("needs {} bytes", tgz.len())) && err.contains("hint:"),
        "{err}"
    );
    let left = fs::read_to_string(&listing).unwrap();
    assert_eq!(left, "", "files left in the full cache");
}

/// A Docker Engine that answers the ping and the version, then drops the connection
/// in the middle of `docker load` (what a daemon restart looks like to a client). A
/// fake on a socket of our own: the real daemon is shared and must not be restarted.
fn dying_engine(sock: &Path) -> std::thread::JoinHandle<()> {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::os::unix::net::UnixListener::bind(sock).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let mut w = conn;
            let reply = |w: &mut std::os::unix::net::UnixStream, body: &str| {
                let _ = write!(
                    w,
                    "HTTP/1.1 200 OK\r\nApi-Version: 1.43\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            };
            if line.contains("/_ping") {
                reply(&mut w, "OK");
            } else if line.contains("/version") {
                reply(
                    &mut w,
                    r#"{"ApiVersion":"1.43","MinAPIVersion":"1.12","Version":"24.0.0","Os":"linux","Arch":"amd64"}"#,
                );
            } else if line.contains("/images/load") {
                // Take a little of the archive, then vanish.
                let mut buf = vec![0u8; 256 << 10];
                let _ = r.read_exact(&mut buf);
                let _ = w.shutdown(std::net::Shutdown::Both);
                return;
            } else {
                let _ = write!(w, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            }
        }
    })
}

#[test]
fn an_engine_gone_during_load_is_a_clear_error() {
    let inputs = tempfile::tempdir().unwrap();
    let mut args = build_inputs(inputs.path());
    let sock = inputs.path().join("docker.sock");
    let server = dying_engine(&sock);
    args.push("--load".into());
    let out = killable(&args, &inputs.path().join("cache"))
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_exit(&out, exit::ENGINE_FAILED);
    assert!(
        err.contains("Docker Engine: load: the connection to the daemon was lost"),
        "{err}"
    );
    assert!(err.contains("restarted or stopped"), "{err}");
    server.join().unwrap();
}

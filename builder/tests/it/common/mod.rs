//! Shared by the integration tests: skipping with a reason, tool probes, the loopback
//! HTTP server and tarball builders.
//!
//! A test that cannot run here calls [`skip`], which records it in the run's skip log
//! (`sparkimg-skips`: counted and listed by `cargo xtask test`) and fails under CI, so
//! no test can pass there unrun.
//!
//!
//! The server is written on `std::net` rather than tiny_http/hyper on purpose: the fault
//! injection needs socket-level control those crates hide (closing mid-body after exactly
//! N bytes, a reset before any response, stalling mid-body) — tiny_http keeps connections
//! alive after a short body, so a "truncation" would only ever look like a stall.
pub mod oci;
mod runner;

pub use runner::{assert_exit, Ran, Sparkimg, BIN};

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use sha2::{Digest, Sha512};

/// The distribution `cargo xtask fixtures` assembles by default (under
/// `target/fixtures/dist/`), the one the builder tests use; the per-line fixtures of
/// `--spark lines` sit beside it and are the e2e matrix's.
pub const FIXTURE_DIST: &str = "spark-3.5.9-bin-hadoop3";

/// Records that the running test cannot run here (see the module comment).
pub fn skip(why: &str) {
    sparkimg_skips::skip(&sparkimg_skips::current_test(env!("CARGO_CRATE_NAME")), why);
}

/// Whether `tool` runs (a path or a name on PATH).
pub fn have(tool: &str) -> bool {
    // openssl and htpasswd have no --version.
    let probe: &[&str] = match tool {
        "openssl" => &["version"],
        "htpasswd" => &["-nbB", "a", "b"],
        _ => &["--version"],
    };
    Command::new(tool)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// [`have`], or a recorded skip naming the tool.
pub fn need(tool: &str) -> bool {
    let ok = have(tool);
    if !ok {
        skip(&format!(
            "{tool} is not installed (cargo xtask prereqs --install)"
        ));
    }
    ok
}

/// Whether a Docker Engine answers, or a recorded skip.
pub fn need_docker_engine() -> bool {
    let ok = Command::new("docker")
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip("no Docker Engine answers (`docker version`)");
    }
    ok
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// Send full headers, then only `n` body bytes, then close the connection.
    TruncateAfter(usize),
    /// Respond with this status and an empty body (optional Retry-After value).
    Status(u16, Option<&'static str>),
    /// Send `n` body bytes, then go silent for `stall`.
    StallAfter(usize, Duration),
    /// Answer a Range request with 200 and the whole file.
    IgnoreRange,
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub range: Option<String>,
    pub status: u16,
    /// Body bytes actually written to the socket.
    pub served: u64,
    /// The request's `Authorization` header.
    pub authorization: Option<String>,
}

#[derive(Default)]
struct State {
    files: HashMap<String, Arc<Vec<u8>>>,
    faults: HashMap<String, VecDeque<Fault>>,
    seen: Vec<Seen>,
}

pub struct Server {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    /// Connections to drop unread (the kernel answers with RST), before parsing.
    resets: Arc<AtomicUsize>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let resets = Arc::new(AtomicUsize::new(0));
        let (st, sp, rs) = (state.clone(), stop.clone(), resets.clone());
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                if rs
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    // Let the request arrive, then close with it unread: a real RST.
                    thread::sleep(Duration::from_millis(50));
                    drop(conn);
                    continue;
                }
                let st = st.clone();
                thread::spawn(move || handle(conn, st));
            }
        });
        Server {
            addr,
            state,
            stop,
            resets,
            accept: Some(accept),
        }
    }

    /// Base URL to use as a mirror, e.g. `http://127.0.0.1:1234/m/`.
    pub fn url(&self, prefix: &str) -> String {
        format!("http://{}/{prefix}", self.addr)
    }

    pub fn put(&self, path: &str, body: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(path.to_string(), Arc::new(body));
    }

    pub fn fault(&self, path: &str, f: Fault) {
        let mut s = self.state.lock().unwrap();
        s.faults.entry(path.to_string()).or_default().push_back(f);
    }

    pub fn reset_next(&self, n: usize) {
        self.resets.store(n, Ordering::SeqCst);
    }

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        let s = self.state.lock().unwrap();
        s.seen.iter().filter(|r| r.path == path).cloned().collect()
    }

    pub fn all_seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn handle(conn: TcpStream, state: Arc<Mutex<State>>) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            }
            if k.eq_ignore_ascii_case("authorization") {
                authorization = Some(v.trim().to_string());
            }
        }
    }
    let (body, fault) = {
        let mut s = state.lock().unwrap();
        let fault = s.faults.get_mut(&path).and_then(|q| q.pop_front());
        (s.files.get(&path).cloned(), fault)
    };
    let mut out = conn;
    let record = |status: u16, served: u64| {
        state.lock().unwrap().seen.push(Seen {
            path: path.clone(),
            range: range.clone(),
            status,
            served,
            authorization: authorization.clone(),
        });
    };
    let head = |out: &mut TcpStream, status: u16, extra: &str, len: usize| {
        let _ = write!(
            out,
            "HTTP/1.1 {status} X\r\nContent-Length: {len}\r\nConnection: close\r\n{extra}\r\n"
        );
    };
    if let Some(Fault::Status(code, retry_after)) = &fault {
        let extra = retry_after
            .map(|v| format!("Retry-After: {v}\r\n"))
            .unwrap_or_default();
        record(*code, 0);
        head(&mut out, *code, &extra, 0);
        return;
    }
    let Some(body) = body else {
        record(404, 0);
        head(&mut out, 404, "", 0);
        return;
    };
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    let ignore_range = matches!(fault, Some(Fault::IgnoreRange));
    let (status, slice, extra) = match start {
        Some(s) if !ignore_range && s >= body.len() => {
            record(416, 0);
            head(&mut out, 416, "", 0);
            return;
        }
        Some(s) if !ignore_range => (
            206,
            &body[s..],
            format!(
                "Content-Range: bytes {s}-{}/{}\r\n",
                body.len() - 1,
                body.len()
            ),
        ),
        _ => (200, &body[..], String::new()),
    };
    // Every request is recorded before its response is written: a client that has read
    // the whole response may return, and its test look at `seen`, before this thread runs
    // again.
    head(&mut out, status, &extra, slice.len());
    match fault {
        Some(Fault::TruncateAfter(n)) => {
            let n = n.min(slice.len());
            record(status, n as u64);
            let _ = out.write_all(&slice[..n]);
            let _ = out.flush();
            let _ = out.shutdown(Shutdown::Both);
        }
        Some(Fault::StallAfter(n, stall)) => {
            let n = n.min(slice.len());
            let _ = out.write_all(&slice[..n]);
            let _ = out.flush();
            // Recorded before the stall so a test that finished meanwhile sees it.
            record(status, n as u64);
            thread::sleep(stall);
            // The client has given up by now; whatever this writes is not received.
            let _ = out.write_all(&slice[n..]);
        }
        _ => {
            record(status, slice.len() as u64);
            let _ = out.write_all(slice);
        }
    }
}

pub fn sha512_hex(data: &[u8]) -> String {
    hex::encode(Sha512::digest(data))
}

/// Incompressible filler so byte offsets in the .tgz are meaningful.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A small Spark-shaped distribution: `spark-V-bin-F/{bin/spark-submit,jars/…,RELEASE}`.
pub fn spark_tgz(version: &str, flavour: &str) -> Vec<u8> {
    let top = format!("spark-{version}-bin-{flavour}");
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut add = |path: &str, mode: u32, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, format!("{top}/{path}"), data)
            .unwrap();
    };
    add("bin/spark-submit", 0o755, b"#!/bin/sh\necho spark-submit\n");
    add(
        "RELEASE",
        0o644,
        format!("Spark {version} built for Hadoop 3\n").as_bytes(),
    );
    add("jars/spark-core_2.13.jar", 0o644, &noise(300_000, 1));
    add("jars/scala-library-2.13.jar", 0o644, &noise(100_000, 2));
    b.into_inner().unwrap().finish().unwrap()
}

/// `sha512sum` style.
pub fn sha512sum_line(data: &[u8], name: &str) -> Vec<u8> {
    format!("{}  {name}\n", sha512_hex(data)).into_bytes()
}

/// `gpg --print-md SHA512` style: upper case, groups of 8, five per line.
pub fn gpg_style(data: &[u8], name: &str) -> Vec<u8> {
    let hex = sha512_hex(data).to_uppercase();
    let groups: Vec<&str> = (0..16).map(|i| &hex[i * 8..i * 8 + 8]).collect();
    let pad = " ".repeat(name.len() + 2);
    let lines: Vec<String> = groups.chunks(5).map(|c| c.join(" ")).collect();
    format!("{name}: {}\n", lines.join(&format!("\n{pad}"))).into_bytes()
}

/// `docker-registry serve` (Debian's, distribution 2.8: no referrers API) on a free
/// loopback port with temporary storage; killed on drop. `None` after a recorded skip.
pub struct LoopbackRegistry {
    child: std::process::Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl LoopbackRegistry {
    pub fn start() -> Option<LoopbackRegistry> {
        Self::start_with("")
    }

    /// `extra`: YAML appended to the config (e.g. an `auth:` section).
    pub fn start_with(extra: &str) -> Option<LoopbackRegistry> {
        let bin = "/usr/bin/docker-registry";
        if !std::path::Path::new(bin).is_file() {
            skip("docker-registry is not installed (apt-get install docker-registry)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  \
                 addr: 127.0.0.1:{port}\n{extra}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        // The access log, for tests that check which blobs were fetched.
        let log = std::fs::File::create(dir.path().join("access.log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed().as_secs() < 20, "registry did not start");
            thread::sleep(Duration::from_millis(20));
        }
        Some(LoopbackRegistry {
            child,
            port,
            _dir: dir,
        })
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Access-log requests so far, as `(method, uri, status)`.
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        let bytes = std::fs::read(self._dir.path().join("access.log")).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| {
                let start = l.find("] \"")? + 3;
                let (req, tail) = l[start..].split_once("\" ")?;
                let mut parts = req.split(' ');
                let (m, u) = (parts.next()?, parts.next()?);
                let status = tail.split(' ').next()?.parse().ok()?;
                Some((m.to_string(), u.to_string(), status))
            })
            .collect()
    }
}

impl Drop for LoopbackRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails when any of `secrets` (fake credentials a test handed to sparkimg) occurs in
/// `bytes`, which is `what` (an output stream, a written file).
pub fn assert_no_secret(what: &str, bytes: &[u8], secrets: &[String]) {
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        let found = bytes.windows(s.len()).position(|w| w == s.as_bytes());
        if let Some(at) = found {
            let from = at.saturating_sub(80);
            let to = (at + s.len() + 80).min(bytes.len());
            panic!(
                "secret {s:?} leaked into {what}: …{}…",
                String::from_utf8_lossy(&bytes[from..to])
            );
        }
    }
}

/// [`assert_no_secret`] over stdout and stderr of a run.
pub fn assert_output_has_no_secret(out: &std::process::Output, secrets: &[String]) {
    assert_no_secret("stdout", &out.stdout, secrets);
    assert_no_secret("stderr", &out.stderr, secrets);
}

/// [`assert_no_secret`] over every file under `dir` (layouts, caches, registry storage,
/// SBOMs), except the credential inputs the test wrote itself (`inputs`, files or
/// folders). Returns how many files were scanned.
pub fn assert_tree_has_no_secret(
    dir: &std::path::Path,
    inputs: &[std::path::PathBuf],
    secrets: &[String],
) -> usize {
    let mut scanned = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for ent in rd.flatten() {
            let p = ent.path();
            if inputs.iter().any(|i| p.starts_with(i)) {
                continue;
            }
            let Ok(ft) = ent.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                if let Ok(bytes) = std::fs::read(&p) {
                    assert_no_secret(&p.display().to_string(), &bytes, secrets);
                    scanned += 1;
                }
            }
        }
    }
    scanned
}

/// When to SIGKILL the runs of a kill-anywhere test so that the kills keep landing
/// mid-run on a loaded machine (CI runs these beside the rest of the suite, and one run
/// of a command can take half as long as the first, cold one): the schedule starts
/// from the fastest of the uninterrupted runs it is given, and shrinks by a quarter
/// whenever a kill comes after its run had already ended.
pub struct KillClock {
    estimate: Duration,
    points: u32,
    /// Kills that found their run still going.
    pub landed: u32,
}

impl KillClock {
    pub fn new(uninterrupted: &[Duration], points: u32) -> Self {
        let estimate = uninterrupted
            .iter()
            .copied()
            .min()
            .expect("a calibration run");
        KillClock {
            estimate,
            points,
            landed: 0,
        }
    }

    /// Point `i` of `1..=points`: spread over 80% of the estimate, never at zero.
    pub fn at(&self, i: u32) -> Duration {
        self.estimate
            .mul_f64(0.8 * f64::from(i) / f64::from(self.points))
    }

    pub fn record(&mut self, landed: bool) {
        if landed {
            self.landed += 1;
        } else {
            self.estimate = self.estimate.mul_f64(0.75);
        }
    }
}

/// A module in a `file://` Maven repository: POM (with `deps` as compile
/// dependencies), a small jar, and their `.sha1`s.
pub fn maven_module(
    repo: &std::path::Path,
    g: &str,
    a: &str,
    v: &str,
    deps: &[(&str, &str, &str)],
) {
    use sha1::Digest as _;
    let dir = repo.join(g.replace('.', "/")).join(a).join(v);
    std::fs::create_dir_all(&dir).unwrap();
    let deps: String = deps
        .iter()
        .map(|(g, a, v)| {
            format!("<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>")
        })
        .collect();
    let pom = format!(
        "<project><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version>\
         <dependencies>{deps}</dependencies></project>"
    );
    let jar = format!("PK {g}:{a}:{v}");
    for (name, bytes) in [(format!("{a}-{v}.pom"), pom), (format!("{a}-{v}.jar"), jar)] {
        let sum = hex::encode(sha1::Sha1::digest(bytes.as_bytes()));
        std::fs::write(dir.join(&name), bytes.as_bytes()).unwrap();
        std::fs::write(dir.join(format!("{name}.sha1")), sum.as_bytes()).unwrap();
    }
}

/// `skopeo inspect --raw` (with `extra` flags such as `--tls-verify=false`): the
/// manifest's bytes as the registry serves them; a failure fails the test.
pub fn skopeo_raw(reference: &str, extra: &[&str]) -> Vec<u8> {
    let o = Command::new("skopeo")
        .args(["inspect", "--raw"])
        .args(extra)
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// A Python venv at `target/<name>` with `packages` from PyPI (the oracles' validators),
/// made once: its directory, or `None` with a recorded skip when it cannot be made.
/// nextest runs tests as parallel processes, so one makes it under a file lock while
/// the others wait; a marker holding the package list, written once pip succeeded, is
/// what says it is complete (and a changed list makes it again).
pub fn venv(name: &str, packages: &[&str]) -> Option<std::path::PathBuf> {
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let dir = target.join(name);
    let marker = dir.join(".sparkimg-packages");
    let wanted = packages.join("\n");
    std::fs::create_dir_all(&target).expect("create target/");
    let lock = std::fs::File::create(target.join(format!("{name}.lock"))).expect("lock file");
    fs4::FileExt::lock(&lock).expect("lock the venv");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return Some(dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(dir.join("bin/pip"))
            .args(["install", "-q"])
            .args(packages)
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        skip(&format!(
            "cannot install {} into a venv (python3-venv, PyPI)",
            packages.join(", ")
        ));
        return None;
    }
    std::fs::write(&marker, wanted).expect("write the venv's marker");
    Some(dir)
}

/// Layout `dir`'s `index.json`.
pub fn layout_index(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap()
}

/// Changes `layout`'s image manifest after it was signed, as an attacker would (an
/// annotation added): the new manifest's blob written and the index entry pointing at
/// it. Returns the (old, new) digests.
pub fn tamper_image_manifest(layout: &std::path::Path) -> (String, String) {
    let mut idx = layout_index(layout);
    let entries = idx["manifests"].as_array_mut().unwrap();
    let image = entries
        .iter()
        .position(|e| e.get("artifactType").is_none())
        .unwrap();
    let old = entries[image]["digest"].as_str().unwrap().to_string();
    let blob = |d: &str| layout.join("blobs/sha256").join(&d[7..]);
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(&old)).unwrap()).unwrap();
    m["annotations"]["tampered"] = serde_json::json!("yes");
    let bytes = serde_json::to_vec(&m).unwrap();
    let new = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as Digest>::digest(&bytes))
    );
    std::fs::write(blob(&new), &bytes).unwrap();
    entries[image]["digest"] = serde_json::json!(new);
    entries[image]["size"] = serde_json::json!(bytes.len());
    std::fs::write(layout.join("index.json"), idx.to_string()).unwrap();
    (old, new)
}

/// Moves `layout`'s cosign tags `sha256-<old>.<kind>` to `new`'s, for each of `kinds`
/// (`sig`, `att`): old signatures presented as the changed manifest's.
pub fn move_cosign_tags(layout: &std::path::Path, old: &str, new: &str, kinds: &[&str]) {
    const REF_NAME: &str = "org.opencontainers.image.ref.name";
    let mut idx = layout_index(layout);
    for e in idx["manifests"].as_array_mut().unwrap() {
        for kind in kinds {
            if e["annotations"][REF_NAME] == format!("sha256-{}.{kind}", &old[7..]).as_str() {
                e["annotations"][REF_NAME] =
                    serde_json::json!(format!("sha256-{}.{kind}", &new[7..]));
            }
        }
    }
    std::fs::write(layout.join("index.json"), idx.to_string()).unwrap();
}

/// Removes `images` (tags or ids) from the Docker Engine, ignoring ones already gone; not
/// their untagged parents (`--no-prune`): the classic builder's cache shares those with
/// another test's build of the same steps running at the same time, whose next step
/// fails with "unknown parent image ID" when they vanish. The parents left behind are the
/// same for the same steps, so repeated runs do not pile them up.
pub fn remove_images(images: &[String]) {
    if images.is_empty() {
        return;
    }
    let _ = Command::new("docker")
        .args(["rmi", "-f", "--no-prune"])
        .args(images)
        .output();
}

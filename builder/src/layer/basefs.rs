//! Reading the base image's filesystem: `/etc/passwd`, the zoneinfo files and where
//! Java lives. Layers are applied in order (the last one wins) and whiteouts honoured.
//! The overlay and lookup logic is pure ([`BaseFs`]); [`scan`] only feeds it tar entries.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::digest::Sha256;

use super::error::LayerError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    /// Contents are kept only for the files we may need (passwd, zoneinfo).
    File(Option<Vec<u8>>),
    Symlink(String),
    Hardlink(String),
}

/// The interesting part of a merged filesystem, keyed by path without leading '/'.
#[derive(Debug, Default, Clone)]
pub struct BaseFs {
    pub nodes: BTreeMap<String, Node>,
}

pub const ZONEINFO: &str = "usr/share/zoneinfo";

/// Paths worth remembering; everything else in a (large) base is skipped. Top-level
/// entries are kept for their symlinks (merged-/usr: `lib` → `usr/lib`), which the
/// package layer writes through; `etc/apt`, the keyrings and dpkg's status feed it, and
/// [`SCRIPT_PATHS`] let it tell what maintainer scripts would find.
pub fn interesting(path: &str) -> bool {
    wants_data(path)
        || !path.contains('/')
        || RUNTIMES.contains(&path)
        || path == ZONEINFO
        || path.starts_with("usr/share/zoneinfo/")
        || path.starts_with("usr/lib/jvm")
        || path.starts_with("opt/java")
        // Listed (by name) in SBOMs: every jar of an image, the base's too.
        || path.ends_with(".jar")
        || SCRIPT_PATHS.iter().any(|d| path.starts_with(d))
}

/// Where maintainer scripts act (by name only): the package layer can tell what the
/// base lacks under these, and nowhere else.
pub const SCRIPT_PATHS: [&str; 8] = [
    "etc/",
    "var/lib/",
    "usr/local/",
    "usr/share/doc/",
    "usr/share/python3/",
    "usr/bin/",
    "bin/",
    "usr/sbin/",
];

/// Programs whose presence decides whether a variant needs OS packages.
pub const RUNTIMES: [&str; 4] = [
    "usr/bin/python3",
    "usr/local/bin/python3",
    "usr/bin/R",
    "usr/local/bin/R",
];

fn wants_apt_data(path: &str) -> bool {
    path == DPKG_STATUS
        || path == DPKG_FILE_TRIGGERS
        || path.starts_with("etc/apt/")
        || path.starts_with("usr/share/keyrings/")
}

/// The package databases and os-release an SBOM reads the base's OS packages from.
pub const DPKG_STATUS: &str = "var/lib/dpkg/status";
/// dpkg's file triggers (`PATH PACKAGE[/noawait]` a line).
pub const DPKG_FILE_TRIGGERS: &str = "var/lib/dpkg/triggers/File";
pub const APK_INSTALLED: &str = "lib/apk/db/installed";
pub const OS_RELEASE: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];

pub fn wants_os_database(path: &str) -> bool {
    path == DPKG_STATUS || path == APK_INSTALLED || OS_RELEASE.contains(&path)
}

fn wants_data(path: &str) -> bool {
    path == "etc/passwd"
        || is_java_release(path)
        || path.starts_with("usr/share/zoneinfo/")
        || wants_apt_data(path)
        || wants_os_database(path)
}

/// A JDK's `release` file (it names the Java version): `usr/lib/jvm/<jdk>/release`,
/// `opt/java/<jdk>/release`, `opt/<jdk>/release` or `usr/local/<jdk>/release`.
fn is_java_release(path: &str) -> bool {
    let Some(dir) = path.strip_suffix("/release") else {
        return false;
    };
    let Some((parent, jdk)) = dir.rsplit_once('/') else {
        return false;
    };
    !jdk.is_empty() && ["usr/lib/jvm", "opt/java", "opt", "usr/local"].contains(&parent)
}

/// `./a/b/` → `a/b`.
pub fn normalize(p: &str) -> String {
    let p = p.trim_start_matches("./").trim_start_matches('/');
    p.trim_end_matches('/').to_string()
}

impl BaseFs {
    /// Apply one layer's entries (already normalised) on top of the lower layers.
    pub fn apply_layer(&mut self, entries: Vec<(String, Node)>) {
        for (path, _) in &entries {
            let (dir, base) = match path.rsplit_once('/') {
                Some((d, b)) => (d, b),
                None => ("", path.as_str()),
            };
            if base == ".wh..wh..opq" {
                let prefix = if dir.is_empty() {
                    String::new()
                } else {
                    format!("{dir}/")
                };
                self.nodes
                    .retain(|k, _| !(k.starts_with(&prefix) && k.len() > prefix.len()));
            } else if let Some(victim) = base.strip_prefix(".wh.") {
                let victim = if dir.is_empty() {
                    victim.to_string()
                } else {
                    format!("{dir}/{victim}")
                };
                let prefix = format!("{victim}/");
                self.nodes
                    .retain(|k, _| *k != victim && !k.starts_with(&prefix));
            }
        }
        for (path, node) in entries {
            let base = path.rsplit('/').next().unwrap_or("");
            if base.starts_with(".wh.") {
                continue;
            }
            if !matches!(node, Node::Dir) {
                // A file replacing a directory hides everything below it.
                let prefix = format!("{path}/");
                self.nodes.retain(|k, _| !k.starts_with(&prefix));
            }
            self.nodes.insert(path, node);
        }
    }

    /// Follow symlinks (in any component) and hardlinks; `None` when absent.
    pub fn resolve(&self, path: &str) -> Option<(String, &Node)> {
        let mut path = normalize(path);
        'restart: for _ in 0..32 {
            let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
            let mut cur = String::new();
            for (i, c) in comps.iter().enumerate() {
                match *c {
                    "." => continue,
                    ".." => {
                        cur = cur
                            .rsplit_once('/')
                            .map(|(d, _)| d.to_string())
                            .unwrap_or_default();
                        continue;
                    }
                    _ => {}
                }
                if !cur.is_empty() {
                    cur.push('/');
                }
                cur.push_str(c);
                match self.nodes.get(&cur) {
                    Some(Node::Symlink(t)) => {
                        let parent = cur.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                        let target = if t.starts_with('/') {
                            normalize(t)
                        } else if parent.is_empty() {
                            t.clone()
                        } else {
                            format!("{parent}/{t}")
                        };
                        let rest = comps[i + 1..].join("/");
                        path = if rest.is_empty() {
                            target
                        } else {
                            format!("{target}/{rest}")
                        };
                        continue 'restart;
                    }
                    Some(Node::Hardlink(t)) if i + 1 == comps.len() => {
                        path = normalize(t);
                        continue 'restart;
                    }
                    _ => {}
                }
            }
            return self.nodes.get(&cur).map(|n| (cur.clone(), n));
        }
        None
    }

    pub fn read(&self, path: &str) -> Option<&[u8]> {
        match self.resolve(path) {
            Some((_, Node::File(Some(d)))) => Some(d),
            _ => None,
        }
    }

    /// A Java home: `opt/java/openjdk` (eclipse-temurin) first, else the first
    /// `usr/lib/jvm/*/bin/java` in name order (Debian/Ubuntu packages).
    pub fn java_home(&self) -> Option<String> {
        if matches!(
            self.resolve("opt/java/openjdk/bin/java"),
            Some((_, Node::File(_)))
        ) {
            return Some("/opt/java/openjdk".into());
        }
        self.nodes.keys().find_map(|k| {
            let rest = k.strip_prefix("usr/lib/jvm/")?;
            let (jdk, tail) = rest.split_once('/')?;
            (tail == "bin/java" && matches!(self.resolve(k), Some((_, Node::File(_)))))
                .then(|| format!("/usr/lib/jvm/{jdk}"))
        })
    }

    /// Zone names (`Asia/Shanghai`) present as TZif files, for suggestions.
    pub fn zone_names(&self) -> Vec<String> {
        self.nodes
            .keys()
            .filter_map(|k| k.strip_prefix("usr/share/zoneinfo/"))
            .filter(|n| !n.starts_with("posix/") && !n.starts_with("right/"))
            .filter(|n| self.read(&format!("{ZONEINFO}/{n}")).is_some_and(is_tzif))
            .map(str::to_string)
            .collect()
    }
}

pub fn is_tzif(b: &[u8]) -> bool {
    b.starts_with(b"TZif")
}

/// Read the layers' tar streams (any compression) into a [`BaseFs`].
///
/// A base layer is hundreds of MB to inflate, and its interesting entries never change
/// (layers are content-addressed), so with a `cache_dir` each layer's entries are kept
/// in `<cache_dir>/<digest>` and later builds read those few MB instead.
pub fn scan(layers: &[(&Path, &str)], cache_dir: Option<&Path>) -> Result<BaseFs, LayerError> {
    let mut fs = BaseFs::default();
    for (path, digest) in layers {
        let cached = cache_dir.map(|dir| scan_file(dir, digest));
        if let Some((file, entries)) = cached.as_deref().and_then(|f| read_scan(f).map(|e| (f, e)))
        {
            // Last use, for `cache prune --older-than/--keep-last`.
            crate::cache::touch(file);
            fs.apply_layer(entries);
            continue;
        }
        let entries = scan_layer(path)?;
        if let Some(file) = &cached {
            // Best effort: a cache we cannot write only costs time next build.
            let _ = write_scan(file, &entries);
        }
        fs.apply_layer(entries);
    }
    Ok(fs)
}

fn scan_layer(path: &Path) -> Result<Vec<(String, Node)>, LayerError> {
    scan_entries(super::decompressing_reader(path)?, path)
}

/// The scan cache file of layer `digest` in `cache_dir`.
fn scan_file(cache_dir: &Path, digest: &str) -> PathBuf {
    cache_dir.join(digest.replace(':', "-"))
}

/// Whether layer `digest`'s scan is in `cache_dir`, so that [`scan`] needs no file of it.
pub fn scanned(cache_dir: &Path, digest: &str) -> bool {
    read_scan(&scan_file(cache_dir, digest)).is_some()
}

/// A layer scanned from its bytes as they stream past (a blob `rebase` copies between
/// registries), into the scan cache [`scan`] reads, so the layer is read once and
/// never stored. Writes go to a scanning thread through a bounded channel; the scan is
/// kept when the tap is dropped, and only if the bytes written hash to the layer's
/// digest (a broken or retried transfer leaves nothing). Writes never fail: the tap
/// must not disturb the transfer it sits on.
pub struct ScanTap {
    tx: Option<SyncSender<Vec<u8>>>,
    hash: Sha256,
    digest: String,
    file: PathBuf,
    worker: Option<JoinHandle<Result<Entries, LayerError>>>,
}

/// A layer's interesting entries, in tar order.
type Entries = Vec<(String, Node)>;

impl ScanTap {
    pub fn start(cache_dir: &Path, digest: &str) -> ScanTap {
        let (tx, rx) = sync_channel::<Vec<u8>>(16);
        let what = PathBuf::from(digest);
        let worker = std::thread::spawn(move || {
            let r = ChannelReader {
                rx,
                buf: Vec::new(),
                pos: 0,
            };
            scan_entries(super::decompressing(r, &what)?, &what)
        });
        ScanTap {
            tx: Some(tx),
            hash: Sha256::new(),
            digest: digest.to_string(),
            file: scan_file(cache_dir, digest),
            worker: Some(worker),
        }
    }
}

impl Write for ScanTap {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.hash.update(b);
        // The scanner stops reading at the tar's end (or on an error): the rest only
        // feeds the hash.
        if self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send(b.to_vec()).is_err())
        {
            self.tx = None;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ScanTap {
    fn drop(&mut self) {
        drop(self.tx.take());
        let Some(worker) = self.worker.take() else {
            return;
        };
        let entries = worker.join();
        let hash = std::mem::take(&mut self.hash).finalize();
        if crate::oci::Digest::from_sha256(hash) != self.digest {
            return;
        }
        if let Ok(Ok(entries)) = entries {
            // Best effort, as in `scan`: without it the layer is read again.
            let _ = write_scan(&self.file, &entries);
        }
    }
}

/// The receiving end of a [`ScanTap`] as a `Read`.
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(b) => (self.buf, self.pos) = (b, 0),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The interesting entries of one uncompressed layer tar; `path` names it in errors.
fn scan_entries(r: impl Read, path: &Path) -> Result<Vec<(String, Node)>, LayerError> {
    let mut ar = tar::Archive::new(r);
    let mut entries = Vec::new();
    for e in ar.entries().map_err(LayerError::io(path))? {
        let mut e = e.map_err(LayerError::io(path))?;
        let name = normalize(&String::from_utf8_lossy(&e.path_bytes()));
        let base = name.rsplit('/').next().unwrap_or("");
        if !interesting(&name) && !base.starts_with(".wh.") {
            continue;
        }
        let link = || {
            e.link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default()
        };
        let node = match e.header().entry_type() {
            tar::EntryType::Directory => Node::Dir,
            tar::EntryType::Symlink => Node::Symlink(link()),
            tar::EntryType::Link => Node::Hardlink(link()),
            _ if wants_data(&name) && e.size() <= 16 << 20 => {
                let mut d = Vec::with_capacity(e.size() as usize);
                e.read_to_end(&mut d).map_err(LayerError::io(path))?;
                Node::File(Some(d))
            }
            _ => Node::File(None),
        };
        entries.push((name, node));
    }
    Ok(entries)
}

// The scan cache's file format, by hand because it is tiny and must load in
// milliseconds (zoneinfo is ~2000 small binary files: JSON would triple them):
// magic, then per entry a kind byte, u32 path length, path, u64 payload length, payload.
// Version 3 keeps the apt and dpkg files (the package layer) and the package
// databases (SBOMs), version 4 the JDKs' release files (the Java check): older scans
// lack them and are redone.
const SCAN_MAGIC: &[u8; 8] = b"SPKSCAN4";

fn write_scan(file: &Path, entries: &[(String, Node)]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(SCAN_MAGIC);
    for (path, node) in entries {
        let (kind, payload): (u8, &[u8]) = match node {
            Node::Dir => (0, &[]),
            Node::File(None) => (1, &[]),
            Node::File(Some(data)) => (2, data),
            Node::Symlink(t) => (3, t.as_bytes()),
            Node::Hardlink(t) => (4, t.as_bytes()),
        };
        out.push(kind);
        out.extend_from_slice(&(path.len() as u32).to_le_bytes());
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(payload);
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(&out)?;
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

/// `None` for a missing or damaged file: the layer is then scanned again.
fn read_scan(file: &Path) -> Option<Vec<(String, Node)>> {
    let bytes = std::fs::read(file).ok()?;
    let mut rest = bytes.strip_prefix(SCAN_MAGIC)?;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = rest.split_at_checked(n)?;
        rest = tail;
        Some(head)
    };
    let mut entries = Vec::new();
    while let Some(kind) = take(1) {
        let kind = kind[0];
        let path_len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        let path = String::from_utf8(take(path_len)?.to_vec()).ok()?;
        let len = usize::try_from(u64::from_le_bytes(take(8)?.try_into().ok()?)).ok()?;
        let payload = take(len)?;
        let text = || String::from_utf8(payload.to_vec()).ok();
        let node = match kind {
            0 => Node::Dir,
            1 => Node::File(None),
            2 => Node::File(Some(payload.to_vec())),
            3 => Node::Symlink(text()?),
            4 => Node::Hardlink(text()?),
            _ => return None,
        };
        entries.push((path, node));
    }
    Some(entries)
}

/// Pure: is `zone` shaped like a zoneinfo name (no `..`, no absolute path)?
pub fn valid_zone_name(zone: &str) -> bool {
    !zone.is_empty()
        && !zone.starts_with('/')
        && zone
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+' | '.'))
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Up to five names closest to `zone`: substring matches (`Shanghai` → `Asia/Shanghai`)
/// first, then by edit distance.
pub fn suggest_zones(zone: &str, names: &[String]) -> Vec<String> {
    let lz = zone.to_lowercase();
    let limit = (zone.len() / 3).max(3);
    let mut scored: Vec<(usize, &String)> = names
        .iter()
        .filter_map(|n| {
            let ln = n.to_lowercase();
            let last = ln.rsplit('/').next().unwrap_or(&ln);
            let d = if ln.contains(&lz) && lz.len() >= 3 {
                0
            } else {
                levenshtein(&lz, &ln).min(levenshtein(&lz, last) + 1)
            };
            (d <= limit).then_some((d, n))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(5).map(|(_, n)| n.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(p: &str, d: &[u8]) -> (String, Node) {
        (p.into(), Node::File(Some(d.to_vec())))
    }

    /// A gzip'd layer with a passwd and a JVM.
    fn gz_layer() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, d) in [
            ("etc/passwd", &b"root:x:0:0::/root:/bin/sh\n"[..]),
            ("usr/lib/jvm/j17/bin/java", b"#!"),
            ("srv/other", b"not kept"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o755);
            b.append_data(&mut h, p, d).unwrap();
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&b.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn jdk_release_files_are_kept() {
        for p in [
            "usr/lib/jvm/java-17-openjdk-amd64/release",
            "opt/java/openjdk/release",
            "usr/local/openjdk-8/release",
        ] {
            assert!(wants_data(p) && interesting(p), "{p}");
        }
        for p in [
            "etc/release",
            "usr/lib/jvm/release",
            "usr/lib/jvm/a/b/release",
            "srv/x/release",
        ] {
            assert!(!wants_data(p), "{p}");
        }
    }

    #[test]
    fn scan_tap_keeps_the_scan_of_the_whole_blob_only() {
        let layer = gz_layer();
        let digest = crate::oci::Digest::of(&layer).to_string();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("layer.tar.gz");
        std::fs::write(&file, &layer).unwrap();
        let from_file = scan_layer(&file).unwrap();
        // Cut short, or not the digest's bytes: nothing is kept.
        let cache = dir.path().join("scans");
        for bytes in [&layer[..layer.len() / 2], b"other bytes"] {
            let mut tap = ScanTap::start(&cache, &digest);
            tap.write_all(bytes).unwrap();
            drop(tap);
            assert!(!scanned(&cache, &digest));
        }
        // The whole blob in small writes: the scan a file gives, read back by `scan`.
        let mut tap = ScanTap::start(&cache, &digest);
        for chunk in layer.chunks(7) {
            tap.write_all(chunk).unwrap();
        }
        drop(tap);
        assert!(scanned(&cache, &digest));
        assert_eq!(read_scan(&scan_file(&cache, &digest)).unwrap(), from_file);
        let missing = dir.path().join("absent");
        let fs = scan(&[(missing.as_path(), digest.as_str())], Some(&cache)).unwrap();
        assert_eq!(fs.java_home().as_deref(), Some("/usr/lib/jvm/j17"));
        assert!(fs.read("etc/passwd").is_some());
    }

    #[test]
    fn overlay_and_whiteouts() {
        let mut fs = BaseFs::default();
        fs.apply_layer(vec![
            f("etc/passwd", b"root\n"),
            f("usr/share/zoneinfo/Etc/UTC", b"TZif1"),
            (
                "usr/share/zoneinfo/UTC".into(),
                Node::Symlink("Etc/UTC".into()),
            ),
            f("usr/lib/jvm/java-17/bin/java", b""),
        ]);
        assert_eq!(fs.read("usr/share/zoneinfo/UTC"), Some(&b"TZif1"[..]));
        assert_eq!(fs.java_home().as_deref(), Some("/usr/lib/jvm/java-17"));
        fs.apply_layer(vec![
            f("etc/passwd", b"root\nx\n"),
            ("usr/lib/jvm/.wh.java-17".into(), Node::File(None)),
        ]);
        assert_eq!(fs.read("/etc/passwd"), Some(&b"root\nx\n"[..]));
        assert_eq!(fs.java_home(), None);
        fs.apply_layer(vec![
            ("usr/share/zoneinfo/.wh..wh..opq".into(), Node::File(None)),
            ("usr/share/zoneinfo/Asia".into(), Node::Dir),
            f("usr/share/zoneinfo/Asia/Shanghai", b"TZif2"),
            ("etc/pw".into(), Node::Hardlink("etc/passwd".into())),
            ("opt/java".into(), Node::Symlink("/usr/lib/jvm".into())),
            f("usr/lib/jvm/openjdk/bin/java", b""),
        ]);
        assert_eq!(fs.read("usr/share/zoneinfo/UTC"), None);
        assert_eq!(fs.zone_names(), ["Asia/Shanghai"]);
        assert_eq!(fs.read("etc/pw"), Some(&b"root\nx\n"[..]));
        assert_eq!(fs.java_home().as_deref(), Some("/opt/java/openjdk"));
    }

    #[test]
    fn scan_cache_round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sha256-x");
        let entries = vec![
            ("etc".to_string(), Node::Dir),
            (
                "etc/passwd".to_string(),
                Node::File(Some(b"root:x:0:0::/:/bin/sh\n".to_vec())),
            ),
            ("usr/lib/jvm/x/bin/java".to_string(), Node::File(None)),
            ("usr/lib/jvm/default".to_string(), Node::Symlink("x".into())),
            (
                "etc/localtime".to_string(),
                Node::Hardlink("usr/share/zoneinfo/UTC".into()),
            ),
        ];
        write_scan(&file, &entries).unwrap();
        assert_eq!(read_scan(&file), Some(entries));
        let mut bytes = std::fs::read(&file).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&file, &bytes).unwrap();
        assert_eq!(read_scan(&file), None);
        std::fs::write(&file, b"garbage").unwrap();
        assert_eq!(read_scan(&file), None);
    }

    #[test]
    fn zones() {
        assert!(valid_zone_name("Asia/Shanghai"));
        assert!(valid_zone_name("Etc/GMT+8"));
        assert!(!valid_zone_name("../etc/passwd"));
        assert!(!valid_zone_name("/UTC"));
        let names: Vec<String> = ["Asia/Shanghai", "Asia/Singapore", "Europe/Berlin", "UTC"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(suggest_zones("Asia/Shanghia", &names)[0], "Asia/Shanghai");
        assert_eq!(suggest_zones("shanghai", &names)[0], "Asia/Shanghai");
        assert_eq!(suggest_zones("Europe/Berln", &names), ["Europe/Berlin"]);
    }
}

//! The cache as a whole, across the stages that fill it (`fetch::cache`,
//! `image::cache`, `registry::pull`, `apt::fetch`, `sbom::jar`, `maven::remote`): what
//! it holds by kind (`cache ls`), pruning (`cache prune`), and the leftovers of
//! processes that died.
//!
//! Every command that uses the cache holds a *session*: a shared lock on
//! `locks/session.lock` for its whole run. A process that can take that lock
//! exclusively knows no other sparkimg process is using the cache, so every write in
//! progress it finds (`tmp/`, `partial/`, `.tmp-*`, `.pull-*`, `*.partial`) belongs to a
//! process that died: it removes them before starting (resumable downloads are kept for
//! a day, for the next run to continue). `cache prune` waits for the exclusive lock,
//! so it never removes what a running command is using.
//!
//! Entries are removed as one rename (folders go to `tmp/.prune-*` first), so an
//! interrupted prune never leaves a half-deleted tree under a name a later run trusts.

pub mod error;
pub mod kinds;
pub mod lock;

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::report;

pub use error::CacheError;
pub use kinds::{Kind, Policy};
use lock::Mode;

/// `--lock-timeout`'s default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(600);

/// A command's use of the cache; dropping it (or dying) ends the session.
#[derive(Debug)]
pub struct Session {
    _lock: File,
    /// What the start-up sweep removed.
    pub swept: Removed,
}

/// Totals of what was removed.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Removed {
    pub count: usize,
    pub bytes: u64,
}

/// One cache entry.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub kind: Kind,
    pub path: PathBuf,
    pub bytes: u64,
    /// Seconds since it was written or last used.
    pub age_secs: u64,
}

/// A write in progress left behind (or still running, when another process is live).
#[derive(Debug, Clone, Serialize)]
pub struct Leftover {
    pub path: PathBuf,
    pub bytes: u64,
    pub age_secs: u64,
    /// A download a later run can resume.
    pub resumable: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub root: PathBuf,
    pub entries: Vec<Entry>,
    pub leftovers: Vec<Leftover>,
}

/// Per kind: entries and bytes.
#[derive(Debug, Clone, Serialize)]
pub struct KindTotal {
    pub kind: Kind,
    pub entries: usize,
    pub bytes: u64,
}

impl Listing {
    pub fn totals(&self) -> Vec<KindTotal> {
        let mut out: Vec<KindTotal> = Vec::new();
        for e in &self.entries {
            match out.iter_mut().find(|t| t.kind == e.kind) {
                Some(t) => {
                    t.entries += 1;
                    t.bytes += e.bytes;
                }
                None => out.push(KindTotal {
                    kind: e.kind,
                    entries: 1,
                    bytes: e.bytes,
                }),
            }
        }
        out.sort_by_key(|t| t.kind);
        out
    }
}

fn session_file(root: &Path) -> Result<(File, PathBuf), CacheError> {
    let dir = root.join("locks");
    fs::create_dir_all(&dir)
        .map_err(|e| CacheError::io(format!("creating cache dir {}", dir.display()), e))?;
    let path = dir.join("session.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| CacheError::io(format!("opening {}", path.display()), e))?;
    Ok((file, path))
}

/// Start using the cache at `root`: sweep dead processes' leftovers when no other
/// sparkimg process uses it, then hold a shared session lock (waiting at most
/// `timeout` while a prune runs).
pub fn open_session(root: &Path, timeout: Duration) -> Result<Session, CacheError> {
    let (file, path) = session_file(root)?;
    let mut swept = Removed::default();
    if lock::try_take(&file, &path, Mode::Exclusive)? {
        // Best effort: an unreadable corner of the cache must not stop the command.
        match scan(root, false) {
            Ok(l) => swept = remove_leftovers(root, &l, Some(kinds::RESUMABLE_FOR)),
            Err(e) => report::warn(&format!("not sweeping the cache: {}", report::chain(&e))),
        }
        if swept.count > 0 {
            report::note(&format!(
                "removed {} leftover(s) of interrupted runs ({}) from {}",
                swept.count,
                indicatif::HumanBytes(swept.bytes),
                root.display()
            ));
        }
    }
    // From exclusive this converts the lock; otherwise it waits out a running prune.
    lock::take(
        &file,
        &path,
        Mode::Shared,
        timeout,
        "the cache (a prune is running)",
    )?;
    Ok(Session { _lock: file, swept })
}

/// What the cache holds. `entries: false` lists only leftovers (no sizes of entries).
pub fn scan(root: &Path, entries: bool) -> Result<Listing, CacheError> {
    let now = SystemTime::now();
    let mut seen = HashSet::new();
    let mut listing = Listing {
        root: root.to_path_buf(),
        entries: Vec::new(),
        leftovers: Vec::new(),
    };
    let leftover = |listing: &mut Listing, folder: &str, path: PathBuf, seen: &mut _| {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let (bytes, age_secs) = size_and_age(&path, now, seen);
        listing.leftovers.push(Leftover {
            resumable: kinds::resumable(folder, &name),
            path,
            bytes,
            age_secs,
        });
    };
    for folder in kinds::SCRATCH {
        for child in children(&root.join(folder))? {
            leftover(&mut listing, folder, child, &mut seen);
        }
    }
    let folders = kinds::FOLDERS.iter().map(|(f, _)| *f);
    for folder in kinds::PARENTS.iter().copied().chain(folders) {
        for child in children(&root.join(folder))? {
            let name = child.file_name().unwrap_or_default().to_string_lossy();
            if kinds::in_progress(&name) {
                leftover(&mut listing, folder, child, &mut seen);
            }
        }
    }
    if !entries {
        return Ok(listing);
    }
    for (folder, kind) in kinds::FOLDERS {
        for path in children(&root.join(folder))? {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if !kinds::in_progress(&name) {
                let (bytes, age_secs) = size_and_age(&path, now, &mut seen);
                listing.entries.push(Entry {
                    kind: *kind,
                    path,
                    bytes,
                    age_secs,
                });
            }
        }
    }
    for (file, kind) in kinds::FILES {
        let path = root.join(file);
        if path.exists() {
            let (bytes, age_secs) = size_and_age(&path, now, &mut seen);
            listing.entries.push(Entry {
                kind: *kind,
                path,
                bytes,
                age_secs,
            });
        }
    }
    Ok(listing)
}

/// The children of `dir`, sorted; none when it does not exist.
fn children(dir: &Path) -> Result<Vec<PathBuf>, CacheError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CacheError::io(format!("reading {}", dir.display()), e)),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| CacheError::io(format!("reading {}", dir.display()), e))?;
        out.push(ent.path());
    }
    out.sort();
    Ok(out)
}

/// Bytes of the files under `path` not counted before (hard links count once), and
/// the seconds since its mtime.
fn size_and_age(path: &Path, now: SystemTime, seen: &mut HashSet<(u64, u64)>) -> (u64, u64) {
    let age = fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| now.duration_since(t).ok())
        .map_or(0, |d| d.as_secs());
    let mut bytes = 0;
    for ent in walkdir::WalkDir::new(path).into_iter().flatten() {
        let Ok(md) = ent.metadata() else { continue };
        if md.is_file() && (md.nlink() == 1 || seen.insert((md.dev(), md.ino()))) {
            bytes += md.len();
        }
    }
    (bytes, age)
}

/// Remove one entry or leftover: a file at once, a folder renamed away first (so no
/// half-removed tree keeps a trusted name). Gone already is fine.
fn remove(root: &Path, path: &Path) -> std::io::Result<()> {
    let md = match fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !md.is_dir() {
        return fs::remove_file(path);
    }
    let trash_dir = root.join("tmp");
    fs::create_dir_all(&trash_dir)?;
    let trash = tempfile::Builder::new()
        .prefix(".prune-")
        .tempdir_in(&trash_dir)?
        .keep();
    let to = trash.join("x");
    fs::rename(path, &to)?;
    fs::remove_dir_all(&trash)
}

/// Remove leftovers; with `keep_resumable`, downloads younger than that stay for the
/// next run to resume. Best effort: what cannot be removed is reported and left.
fn remove_leftovers(root: &Path, listing: &Listing, keep_resumable: Option<Duration>) -> Removed {
    let mut done = Removed::default();
    for l in &listing.leftovers {
        if keep_resumable.is_some_and(|d| l.resumable && l.age_secs < d.as_secs()) {
            continue;
        }
        match remove(root, &l.path) {
            Ok(()) => {
                done.count += 1;
                done.bytes += l.bytes;
            }
            Err(e) => report::warn(&format!(
                "cannot remove {}: {}",
                l.path.display(),
                report::chain(&e)
            )),
        }
    }
    done
}

/// What a prune did (or, dry, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Pruned {
    pub root: PathBuf,
    pub dry_run: bool,
    pub leftovers: Removed,
    pub entries: Removed,
    pub removed: Vec<Entry>,
    pub kept: Removed,
}

/// `cache prune`: every leftover, and the entries `policy` selects. Waits (at most
/// `timeout`) until no other sparkimg process uses the cache.
pub fn prune(
    root: &Path,
    policy: &Policy,
    timeout: Duration,
    dry_run: bool,
) -> Result<Pruned, CacheError> {
    let (_lock, path) = session_file(root)?;
    lock::take(
        &_lock,
        &path,
        Mode::Exclusive,
        timeout,
        "other sparkimg commands to stop using the cache",
    )?;
    let listing = scan(root, true)?;
    let ages: Vec<(Kind, Duration)> = listing
        .entries
        .iter()
        .map(|e| (e.kind, Duration::from_secs(e.age_secs)))
        .collect();
    let chosen = kinds::select(&ages, policy);
    let mut out = Pruned {
        root: root.to_path_buf(),
        dry_run,
        leftovers: Removed::default(),
        entries: Removed::default(),
        removed: Vec::new(),
        kept: Removed::default(),
    };
    if dry_run {
        out.leftovers.count = listing.leftovers.len();
        out.leftovers.bytes = listing.leftovers.iter().map(|l| l.bytes).sum();
    } else {
        out.leftovers = remove_leftovers(root, &listing, None);
    }
    for (e, go) in listing.entries.into_iter().zip(chosen) {
        let gone = go
            && (dry_run
                || remove(root, &e.path)
                    .map_err(|err| {
                        report::warn(&format!(
                            "cannot remove {}: {}",
                            e.path.display(),
                            report::chain(&err)
                        ))
                    })
                    .is_ok());
        let tally = if gone {
            &mut out.entries
        } else {
            &mut out.kept
        };
        tally.count += 1;
        tally.bytes += e.bytes;
        if gone {
            out.removed.push(e);
        }
    }
    Ok(out)
}

/// Mark a cache entry as used now (best effort), so `--older-than` and `--keep-last`
/// count from its last use rather than its creation.
pub fn touch(path: &Path) {
    if let Ok(f) = File::open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

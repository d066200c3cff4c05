//! The on-disk cache. Layout under the root:
//!
//! ```text
//! blobs/sha512/<hex>     verified tarballs, content-addressed
//! dists/<hex>/           their extracted SPARK_HOME
//! index/<file>.json      file name → digest, so a repeat fetch needs no network
//! partial/<key>.part     interrupted downloads, resumed with Range and re-verified
//! locks/<key>.lock       one lock per artifact, held while it is downloaded and installed
//! tmp/                   extraction in progress; renamed into dists/ when complete
//! ```
//!
//! Only `rename` publishes into `blobs/`, `dists/` and `index/`, and only after
//! verification, so a killed process leaves nothing a later run would trust.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::FetchError;
use crate::cache::lock;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexEntry {
    pub file: String,
    pub sha512: String,
    pub bytes: u64,
    pub source: String,
    /// False when it was fetched with `--insecure-skip-verify` and no usable checksum;
    /// a verifying fetch ignores such entries.
    pub verified: bool,
}

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    lock_timeout: Duration,
}

/// Turn an artifact name into something safe to use as a file name under the cache.
pub fn cache_key(name: &str) -> String {
    let key: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // A leading dot would hide the file and `..` must never be a path component.
    format!("k-{key}")
}

impl Cache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Cache {
            root: root.into(),
            lock_timeout: crate::cache::DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// How long [`Cache::lock`] waits for another process before failing.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// `$XDG_CACHE_HOME/sparkimg`, else `~/.cache/sparkimg`.
    pub fn default_root() -> Option<PathBuf> {
        let from_env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        from_env("XDG_CACHE_HOME")
            .or_else(|| from_env("HOME").map(|h| h.join(".cache")))
            .map(|p| p.join("sparkimg"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn ensure(&self) -> Result<(), FetchError> {
        for d in ["blobs/sha512", "dists", "index", "partial", "locks", "tmp"] {
            let p = self.root.join(d);
            fs::create_dir_all(&p)
                .map_err(|e| FetchError::io(format!("creating cache dir {}", p.display()), e))?;
        }
        Ok(())
    }

    pub fn blob(&self, hex: &str) -> PathBuf {
        self.root.join("blobs/sha512").join(hex)
    }

    pub fn dist(&self, hex: &str) -> PathBuf {
        self.root.join("dists").join(hex)
    }

    fn index_path(&self, file: &str) -> PathBuf {
        self.root
            .join("index")
            .join(format!("{}.json", cache_key(file)))
    }

    pub(crate) fn partial(&self, key: &str) -> PathBuf {
        self.root.join("partial").join(format!("{key}.part"))
    }

    pub(crate) fn tmp_dir(&self) -> Result<tempfile::TempDir, FetchError> {
        tempfile::Builder::new()
            .prefix("extract-")
            .tempdir_in(self.root.join("tmp"))
            .map_err(|e| FetchError::io("creating a temporary directory in the cache", e))
    }

    /// The cached entry for `file`, if its extracted tree is present.
    pub fn lookup(&self, file: &str, require_verified: bool) -> Option<IndexEntry> {
        let text = fs::read_to_string(self.index_path(file)).ok()?;
        let entry: IndexEntry = serde_json::from_str(&text).ok()?;
        let well_formed = entry.sha512.len() == 128
            && entry
                .sha512
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !well_formed || entry.file != file || (require_verified && !entry.verified) {
            return None;
        }
        let dist = self.dist(&entry.sha512);
        if !dist.is_dir() {
            return None;
        }
        // Last use, for `cache prune --older-than/--keep-last`.
        crate::cache::touch(&dist);
        crate::cache::touch(&self.blob(&entry.sha512));
        crate::cache::touch(&self.index_path(file));
        Some(entry)
    }

    /// Publish an index entry atomically (temp file + rename).
    pub(crate) fn record(&self, entry: &IndexEntry) -> Result<(), FetchError> {
        let path = self.index_path(&entry.file);
        let ctx = |e| FetchError::io(format!("writing {}", path.display()), e);
        let mut tmp = tempfile::NamedTempFile::new_in(self.root.join("tmp")).map_err(ctx)?;
        let json = serde_json::to_vec_pretty(entry).map_err(|e| ctx(e.into()))?;
        tmp.write_all(&json).map_err(ctx)?;
        tmp.persist(&path).map_err(|e| ctx(e.error))?;
        Ok(())
    }

    /// Take the per-artifact lock, waiting (and saying for whom) while another process
    /// holds it, at most the lock timeout. Released when the returned file is dropped,
    /// also if we crash.
    pub(crate) fn lock(&self, key: &str) -> Result<File, FetchError> {
        let path = self.root.join("locks").join(format!("{key}.lock"));
        let what = format!("another sparkimg process to finish {key}");
        Ok(lock::exclusive(&path, self.lock_timeout, &what)?)
    }
}

//! The layer cache: layer inputs → (digest, diff_id, size) plus the blob, so a rebuild
//! with nothing changed does no tar and no compression.
//!
//! Key (pure, [`plan_key`]): tool version, compression and level, mtime, and per entry
//! its path, type, mode, owner and, for files, the source path + size + mtime (generated
//! files: their sha256). Like ko's and Jib's caches this trusts mtimes: a file rewritten
//! with the same size and mtime is not noticed (`--no-cache` forces a rebuild).
//!
//! Layout under the cache root: `build/layers/<key>.json` and `build/blobs/sha256/<hex>`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::digest::Sha256;

use super::error::LayerError;
use super::plan::{Content, Kind, LayerPlan};
use super::{blob_path, Compression, LayerBlob};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn field(h: &mut Sha256, s: &[u8]) {
    // Length-prefixed so no two different inputs hash the same byte stream.
    h.update((s.len() as u64).to_le_bytes());
    h.update(s);
}

pub fn plan_key(plan: &LayerPlan, mtime: u64, c: Compression) -> String {
    let mut h = Sha256::new();
    field(&mut h, format!("sparkimg {VERSION} layer v1").as_bytes());
    field(&mut h, c.describe().as_bytes());
    field(&mut h, mtime.to_string().as_bytes());
    for e in &plan.entries {
        field(&mut h, e.path.as_bytes());
        field(
            &mut h,
            format!("{:o} {} {}", e.mode, e.uid, e.gid).as_bytes(),
        );
        match &e.kind {
            Kind::Dir => field(&mut h, b"d"),
            Kind::Symlink(t) => {
                field(&mut h, b"l");
                field(&mut h, t.as_bytes());
            }
            Kind::File(Content::Bytes(b)) => {
                field(&mut h, b"b");
                field(&mut h, Sha256::digest(b).as_ref());
            }
            Kind::File(Content::Path {
                path,
                size,
                mtime_ns,
            }) => {
                field(&mut h, b"f");
                field(&mut h, path.as_os_str().as_encoded_bytes());
                field(&mut h, format!("{size} {mtime_ns}").as_bytes());
            }
        }
    }
    hex::encode(h.finalize())
}

/// Key of an OS-package layer, known before any package is unpacked: the base's
/// layers (its dpkg status goes into the layer) and the packages by name and SHA256
/// (which the verified indexes fixed), so a rebuild unpacks nothing.
pub fn packages_key(
    base_layers: &[String],
    packages: &[String],
    mtime: u64,
    c: Compression,
) -> String {
    let mut h = Sha256::new();
    field(
        &mut h,
        format!("sparkimg {VERSION} os-packages v2").as_bytes(),
    );
    field(&mut h, c.describe().as_bytes());
    field(&mut h, mtime.to_string().as_bytes());
    for d in base_layers {
        field(&mut h, d.as_bytes());
    }
    field(&mut h, b"packages");
    for p in packages {
        field(&mut h, p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Key for re-compressing a rootfs tarball.
pub fn file_key(path: &Path, c: Compression) -> Result<String, LayerError> {
    let md = fs::metadata(path).map_err(LayerError::io(path))?;
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut h = Sha256::new();
    field(&mut h, format!("sparkimg {VERSION} rootfs v1").as_bytes());
    field(&mut h, c.describe().as_bytes());
    let abs = fs::canonicalize(path).map_err(LayerError::io(path))?;
    field(&mut h, abs.as_os_str().as_encoded_bytes());
    field(&mut h, format!("{} {mtime}", md.len()).as_bytes());
    Ok(hex::encode(h.finalize()))
}

#[derive(Debug, Clone)]
pub struct LayerCache {
    root: PathBuf,
    lock_timeout: std::time::Duration,
}

impl LayerCache {
    pub fn new(cache_root: &Path) -> Self {
        LayerCache {
            root: cache_root.join("build"),
            lock_timeout: crate::cache::DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// `--lock-timeout`: how long [`LayerCache::lock`] waits for another process.
    pub fn with_lock_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Where cached blobs live; layers are built straight into it.
    pub fn store(&self) -> &Path {
        &self.root
    }

    /// Where [`super::basefs::scan`] keeps each base layer's scan.
    pub fn base_scans(&self) -> PathBuf {
        self.root.join("base-scan")
    }

    pub fn get(&self, key: &str) -> Option<LayerBlob> {
        let text = fs::read(self.root.join("layers").join(format!("{key}.json"))).ok()?;
        let blob: LayerBlob = serde_json::from_slice(&text).ok()?;
        // A missing or truncated blob (someone cleaned the cache) is a miss, not an error.
        let path = blob_path(&self.root, &blob.digest);
        let md = fs::metadata(&path).ok()?;
        if md.len() != blob.size {
            return None;
        }
        // Last use, for `cache prune --older-than/--keep-last`.
        crate::cache::touch(&path);
        crate::cache::touch(&self.root.join("layers").join(format!("{key}.json")));
        Some(blob)
    }

    /// Hold the lock of layer `key` (waiting for another process building the same
    /// layer, at most `--lock-timeout`, naming it), so concurrent builds of one image
    /// build each layer once: the second finds it in the cache when the lock is free.
    pub fn lock(&self, key: &str) -> Result<std::fs::File, LayerError> {
        let path = self.root.join("locks").join(format!("{key}.lock"));
        let what = format!(
            "another sparkimg process building layer {}",
            &key[..12.min(key.len())]
        );
        Ok(crate::cache::lock::exclusive(
            &path,
            self.lock_timeout,
            &what,
        )?)
    }

    pub fn put(&self, key: &str, blob: &LayerBlob) -> Result<(), LayerError> {
        let dir = self.root.join("layers");
        fs::create_dir_all(&dir).map_err(LayerError::io(&dir))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(LayerError::io(&dir))?;
        serde_json::to_writer(&mut tmp, blob)
            .map_err(|e| LayerError::io(&dir)(std::io::Error::other(e)))?;
        let dest = dir.join(format!("{key}.json"));
        tmp.persist(&dest)
            .map_err(|e| LayerError::io(&dest)(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_key_covers_base_packages_epoch_and_compression() {
        let base = vec!["sha256:a".to_string()];
        let pkgs = vec!["python3 aa".to_string(), "python3.11 bb".to_string()];
        let k = packages_key(&base, &pkgs, 0, Compression::gzip(1));
        assert_eq!(k, packages_key(&base, &pkgs, 0, Compression::gzip(1)));
        let others = [
            packages_key(&["sha256:b".into()], &pkgs, 0, Compression::gzip(1)),
            packages_key(&base, &pkgs[..1], 0, Compression::gzip(1)),
            packages_key(
                &base,
                &["python3 ab".into(), pkgs[1].clone()],
                0,
                Compression::gzip(1),
            ),
            packages_key(&base, &pkgs, 1, Compression::gzip(1)),
            packages_key(&base, &pkgs, 0, Compression::Zstd(3)),
            // A layer boundary moved between the base list and the package list.
            packages_key(
                &[],
                &[base[0].clone(), pkgs[0].clone(), pkgs[1].clone()],
                0,
                Compression::gzip(1),
            ),
        ];
        for o in others {
            assert_ne!(o, k);
        }
    }

    /// A layer one gzip backend wrote is never served as another's (or another
    /// level's): each keys its own cache entries.
    #[test]
    fn gzip_backends_and_levels_key_apart() {
        let plan = LayerPlan {
            name: "conf",
            only: None,
            entries: Vec::new(),
        };
        let mut keys = std::collections::BTreeSet::new();
        for &b in crate::layer::GzipBackend::ALL {
            for level in 0..=b.max_level() {
                assert!(keys.insert(plan_key(&plan, 0, Compression::Gzip(b, level))));
            }
        }
        // ISA-L's levels 0–2 and zlib-rs's 0–9 where ISA-L is built; zlib-rs's alone else.
        let isal = usize::from(cfg!(sparkimg_isal)) * 3;
        assert_eq!(keys.len(), isal + 10);
        assert!(keys.contains(&plan_key(&plan, 0, Compression::gzip(1))));
    }
}

//! Layers, a leaf beneath the build, `apt` and `engine`: the entry plan (`plan`), the
//! one tar writer, compression (`compress`), the base's file tree read from its layers
//! (`basefs`), the layer cache (`cache`), and the parallel runner.
//!
//! Effects: turn a [`LayerPlan`] into a blob in one streaming pass
//! (tar → sha256 = diff_id → compressor → sha256 = digest → temp file → rename), and run
//! several such passes at once.

pub mod basefs;
pub mod cache;
pub mod compress;
mod error;
#[cfg(sparkimg_isal)]
pub mod isal;
pub mod plan;

pub use error::LayerError;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::digest::Sha256;

use compress::Compressor;
use plan::{Content, Entry, Kind, LayerPlan};

/// Layer compression. Every compressor is pinned (ISA-L or flate2's zlib-rs in fixed
/// 1 MiB blocks, the zstd crate's bundled libzstd in its multi-threaded frame layout) and
/// runs on all cores, so the bytes depend only on the input, the compressor and the
/// level (see [`compress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// The backend's own level (ISA-L 0–2, zlib-rs 0–9): [`Compression::gzip`] maps
    /// `--compression-level` onto it.
    Gzip(GzipBackend, u32),
    Zstd(i32),
    None,
}

/// The deflate that writes gzip layers; both write the same block layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GzipBackend {
    /// Intel ISA-L, levels 0–2 (`layer/isal.rs`): the default where it is built.
    #[cfg(sparkimg_isal)]
    Isal,
    /// flate2's zlib-rs, levels 0–9: the default where ISA-L is not built (the `isal`
    /// feature off, or not x86_64) or the CPU lacks SSE4.2.
    ZlibRs,
}

impl GzipBackend {
    /// Every backend this build has (zlib-rs always: images it wrote can be rebased).
    pub const ALL: &'static [GzipBackend] = &[
        #[cfg(sparkimg_isal)]
        GzipBackend::Isal,
        GzipBackend::ZlibRs,
    ];

    /// The name recorded in [`Compression::describe`]; ISA-L's names its pinned crate
    /// (isal-sys, whose version carries the ISA-L commit), as its bytes depend on it.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(sparkimg_isal)]
            GzipBackend::Isal => concat!("isal-", env!("SPARKIMG_DEP_ISAL_SYS")),
            GzipBackend::ZlibRs => "flate2-zlib-rs",
        }
    }

    /// The highest level the backend is used at.
    pub fn max_level(self) -> u32 {
        match self {
            #[cfg(sparkimg_isal)]
            GzipBackend::Isal => isal::MAX_LEVEL,
            GzipBackend::ZlibRs => 9,
        }
    }

    /// Pure: the backend's level for a `--compression-level` in 0–9. ISA-L: 0 → 0,
    /// 1 → 1, 2–9 → 2 (its level 3 depends on the CPU, see `layer/isal.rs`).
    pub fn level(self, requested: u32) -> u32 {
        requested.min(self.max_level())
    }
}

impl Compression {
    /// gzip with this build's default backend ([`compress::default_gzip`]) at
    /// `--compression-level` `requested` (0–9), mapped onto the backend's levels.
    pub fn gzip(requested: u32) -> Compression {
        let b = compress::default_gzip();
        Compression::Gzip(b, b.level(requested))
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip(..) => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd(_) => "application/vnd.oci.image.layer.v1.tar+zstd",
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
        }
    }

    /// Recorded in the cache key and an annotation: a different backend or level gives
    /// different digests.
    pub fn describe(self) -> String {
        match self {
            Compression::Gzip(b, l) => {
                format!("gzip/{}/blocks-{}KiB/{l}", b.name(), compress::BLOCK >> 10)
            }
            Compression::Zstd(l) => {
                format!("zstd/libzstd-{}/mt/{l}", zstd::zstd_safe::version_string())
            }
            Compression::None => "none".into(),
        }
    }

    /// Pure: the compression a [`describe`](Self::describe) text names (the level is
    /// its last field; the zstd library version is not checked); `None` when unknown.
    pub fn from_describe(s: &str) -> Option<Compression> {
        if s == "none" {
            return Some(Compression::None);
        }
        let level = s.rsplit('/').next()?;
        // Only this build's own compressors: another's bytes could not be reproduced.
        let gzip = level.parse::<u32>().ok().and_then(|l| {
            GzipBackend::ALL
                .iter()
                .filter(|b| l <= b.max_level())
                .map(|&b| Compression::Gzip(b, l))
                .find(|c| c.describe() == s)
        });
        let zstd = level.parse().ok().map(Compression::Zstd);
        let fields: Vec<&str> = s.split('/').collect();
        match fields.as_slice() {
            ["gzip", ..] => gzip,
            ["zstd", lib, "mt", _] if lib.starts_with("libzstd-") => zstd,
            _ => None,
        }
    }
}

pub use crate::oci::json::LayerBlob;

pub fn blob_path(store: &Path, digest: &str) -> PathBuf {
    store
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap_or(digest))
}

/// A writer that hashes and counts what passes through.
pub struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashWriter<W> {
    pub fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
    pub fn finish(self) -> (W, String, u64) {
        (
            self.inner,
            crate::oci::Digest::from_sha256(self.hasher.finalize()).into(),
            self.count,
        )
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

type Sink = HashWriter<Compressor<HashWriter<BufWriter<File>>>>;

fn open_sink(store: &Path, c: Compression) -> Result<(Sink, tempfile::TempPath), LayerError> {
    let dir = store.join("blobs/sha256");
    fs::create_dir_all(&dir).map_err(LayerError::io(&dir))?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-layer-")
        .tempfile_in(&dir)
        .map_err(LayerError::io(&dir))?;
    let (file, path) = tmp.into_parts();
    let out = HashWriter::new(BufWriter::with_capacity(1 << 20, file));
    let comp = Compressor::new(out, c, compress::threads()).map_err(LayerError::io(&dir))?;
    Ok((HashWriter::new(comp), path))
}

fn close_sink(
    sink: Sink,
    tmp: tempfile::TempPath,
    store: &Path,
    c: Compression,
) -> Result<LayerBlob, LayerError> {
    let err = LayerError::io(tmp.to_path_buf());
    let (comp, diff_id, _) = sink.finish();
    let inner = comp.finish().map_err(LayerError::io(tmp.to_path_buf()))?;
    let (mut buf, digest, size) = inner.finish();
    buf.flush().map_err(LayerError::io(tmp.to_path_buf()))?;
    drop(buf);
    let dest = blob_path(store, &digest);
    tmp.persist(&dest).map_err(|e| err(e.error))?;
    Ok(LayerBlob {
        digest,
        diff_id,
        size,
        media_type: c.media_type().to_string(),
    })
}

fn header_for(e: &Entry, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mtime(mtime);
    h.set_uid(e.uid);
    h.set_gid(e.gid);
    h.set_mode(e.mode);
    h
}

/// The hashes of the jars a build's layers read, by file on disk (for the SBOM).
pub type JarTee = Mutex<BTreeMap<PathBuf, crate::digest::Hashes>>;

/// Write the tar of `plan` to `w`. Entries are already sorted with parents first.
/// With `tee`, each `.jar` is hashed while it is read into the tar.
pub fn write_tar<W: Write>(
    plan: &LayerPlan,
    mtime: u64,
    w: W,
    tee: Option<&JarTee>,
) -> Result<W, LayerError> {
    let mut b = tar::Builder::new(w);
    b.mode(tar::HeaderMode::Complete);
    b.follow_symlinks(false);
    for e in &plan.entries {
        let mut h = header_for(e, mtime);
        let io_err = |src: &Path| LayerError::io(src.to_path_buf());
        match &e.kind {
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, format!("{}/", e.path), io::empty())
                    .map_err(io_err(Path::new(&e.path)))?;
            }
            Kind::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, &e.path, target)
                    .map_err(io_err(Path::new(&e.path)))?;
            }
            Kind::File(Content::Bytes(bytes)) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(bytes.len() as u64);
                b.append_data(&mut h, &e.path, &bytes[..])
                    .map_err(io_err(Path::new(&e.path)))?;
            }
            Kind::File(Content::Path { path, size, .. }) => {
                let f = File::open(path).map_err(io_err(path))?;
                let actual = f.metadata().map_err(io_err(path))?.len();
                if actual != *size {
                    // The tree changed between the walk and now; a short or long copy
                    // would corrupt the tar.
                    return Err(LayerError::Io {
                        path: path.clone(),
                        source: io::Error::other("file changed size during the build"),
                    });
                }
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(*size);
                match tee.filter(|_| e.path.ends_with(".jar")) {
                    Some(tee) => {
                        let mut r = crate::digest::HashingReader::new(f);
                        b.append_data(&mut h, &e.path, &mut r)
                            .map_err(io_err(path))?;
                        let mut t = tee.lock().unwrap_or_else(|p| p.into_inner());
                        t.insert(path.clone(), r.finish());
                    }
                    None => b.append_data(&mut h, &e.path, f).map_err(io_err(path))?,
                }
            }
        }
    }
    b.into_inner().map_err(LayerError::io("tar"))
}

/// Build one planned layer into `store/blobs/sha256/` (see [`write_tar`] for `tee`).
pub fn build_layer(
    plan: &LayerPlan,
    mtime: u64,
    c: Compression,
    store: &Path,
    tee: Option<&JarTee>,
) -> Result<LayerBlob, LayerError> {
    let (sink, tmp) = open_sink(store, c)?;
    let sink = write_tar(plan, mtime, sink, tee)?;
    close_sink(sink, tmp, store, c)
}

/// Detect gzip/zstd by magic bytes and return a reader of the uncompressed stream.
pub fn decompressing_reader(path: &Path) -> Result<Box<dyn Read + Send>, LayerError> {
    decompressing(File::open(path).map_err(LayerError::io(path))?, path)
}

/// [`decompressing_reader`] of any stream (a blob as it arrives); `path` names it in
/// errors.
pub fn decompressing(
    r: impl Read + Send + 'static,
    path: &Path,
) -> Result<Box<dyn Read + Send>, LayerError> {
    let mut f = BufReader::with_capacity(1 << 20, r);
    let magic = {
        use std::io::BufRead;
        let buf = f.fill_buf().map_err(LayerError::io(path))?;
        buf.get(..4).map(<[u8]>::to_vec).unwrap_or_default()
    };
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(f))
    } else if magic == [0x28, 0xb5, 0x2f, 0xfd] {
        Box::new(zstd::Decoder::with_buffer(f).map_err(LayerError::io(path))?)
    } else {
        Box::new(f)
    })
}

/// Re-compress an existing tar (a rootfs tarball) as a layer, byte for byte.
pub fn restream_layer(src: &Path, c: Compression, store: &Path) -> Result<LayerBlob, LayerError> {
    let mut r = decompressing_reader(src)?;
    let (mut sink, tmp) = open_sink(store, c)?;
    io::copy(&mut r, &mut sink).map_err(LayerError::io(src))?;
    close_sink(sink, tmp, store, c)
}

/// Run `jobs` on all cores (the pool size, `SPARKIMG_THREADS`); results come back in job order, so output never depends on
/// scheduling.
pub fn run_parallel<T, R, F>(jobs: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = compress::threads().min(jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= jobs.len() {
                    break;
                }
                let r = f(&jobs[i]);
                if let Ok(mut g) = results.lock() {
                    g[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::plan::Content;

    #[test]
    fn gzip_levels_map_onto_the_backends_levels() {
        let zlib: Vec<u32> = (0..=9).map(|l| GzipBackend::ZlibRs.level(l)).collect();
        assert_eq!(zlib, (0..=9).collect::<Vec<_>>());
        #[cfg(sparkimg_isal)]
        {
            let isal: Vec<u32> = (0..=9).map(|l| GzipBackend::Isal.level(l)).collect();
            assert_eq!(isal, [0, 1, 2, 2, 2, 2, 2, 2, 2, 2]);
            // This build's default on this (SSE4.2) machine, recorded as such.
            assert_eq!(
                Compression::gzip(6),
                Compression::Gzip(GzipBackend::Isal, 2)
            );
            let d = Compression::gzip(1).describe();
            assert_eq!(d, "gzip/isal-0.5.3+496255c/blocks-1024KiB/1");
        }
        #[cfg(not(sparkimg_isal))]
        assert_eq!(
            Compression::gzip(6),
            Compression::Gzip(GzipBackend::ZlibRs, 6)
        );
    }

    #[test]
    fn the_tee_hashes_jars_without_changing_the_tar() {
        let dir = tempfile::tempdir().unwrap();
        let mut entries = Vec::new();
        for (name, data) in [("a.jar", &b"PK jar bytes"[..]), ("b.txt", b"text")] {
            let path = dir.path().join(name);
            fs::write(&path, data).unwrap();
            entries.push(Entry {
                path: format!("opt/{name}"),
                kind: Kind::File(Content::Path {
                    path,
                    size: data.len() as u64,
                    mtime_ns: 0,
                }),
                mode: 0o644,
                uid: 0,
                gid: 0,
            });
        }
        let plan = LayerPlan {
            name: "jars",
            only: None,
            entries,
        };
        let tee = JarTee::default();
        let plain = write_tar(&plan, 0, Vec::new(), None).unwrap();
        let teed = write_tar(&plan, 0, Vec::new(), Some(&tee)).unwrap();
        assert_eq!(plain, teed);
        let hashes = tee.into_inner().unwrap();
        // Jars only, with the hashes of their bytes.
        assert_eq!(hashes.len(), 1);
        let (sha1, sha256) = &hashes[&dir.path().join("a.jar")];
        assert_eq!(sha256, &hex::encode(Sha256::digest(b"PK jar bytes")));
        let want_sha1 = crate::digest::Sha1::digest(b"PK jar bytes");
        assert_eq!(sha1, &hex::encode(want_sha1));
    }
}

//! Effects: write the result as an OCI layout directory, an OCI archive, or a
//! `docker load` archive (legacy manifest.json *and* an OCI layout in one tar, as
//! `docker save` writes since v25, so both the graphdriver and containerd stores load it).
//!
//! Everything is assembled next to the destination and renamed into place at the end,
//! so a failed build leaves the old output (or nothing) behind, never a half-written one.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::error::BuildError;
use crate::oci::json::JsonBlob;
use crate::oci::reference::OutputSpec;

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Where a blob's bytes are.
#[derive(Debug, Clone)]
pub enum BlobSource {
    Path(PathBuf),
    Bytes(Vec<u8>),
    /// Left in a registry repository (`registry/repo`; a rebased registry image's Spark
    /// layers): pushed by HEAD or mount, never downloaded, so never written to files.
    Remote {
        repository: String,
        size: u64,
    },
}

fn remote_err(repository: &str) -> BuildError {
    BuildError::RemoteLayers {
        repository: repository.to_string(),
    }
}

#[derive(Debug, Clone)]
pub struct Blob {
    pub digest: String,
    pub source: BlobSource,
}

pub struct Output<'a> {
    pub spec: &'a OutputSpec,
    /// Every blob, each digest once.
    pub blobs: Vec<Blob>,
    pub index: JsonBlob,
    /// `manifest.json` for docker-archive outputs.
    pub docker_manifest: Option<Vec<u8>>,
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn first_tar_entry(path: &Path) -> Option<String> {
    let f = File::open(path).ok()?;
    let mut ar = tar::Archive::new(f);
    let mut entries = ar.entries().ok()?;
    let e = entries.next()?.ok()?;
    let p = e.path().ok()?.to_string_lossy().into_owned();
    Some(p)
}

/// Refuse to overwrite anything that is not an earlier output of this kind.
pub fn check(spec: &OutputSpec) -> Result<(), BuildError> {
    match spec {
        OutputSpec::OciDir(dir) => {
            let Ok(md) = fs::symlink_metadata(dir) else {
                return Ok(());
            };
            let empty_dir = md.is_dir()
                && fs::read_dir(dir)
                    .map(|mut r| r.next().is_none())
                    .unwrap_or(false);
            if empty_dir || (md.is_dir() && dir.join("oci-layout").is_file()) {
                return Ok(());
            }
            Err(BuildError::OutputNotOurs {
                path: dir.clone(),
                what: "an OCI image layout",
            })
        }
        OutputSpec::OciArchive(f) | OutputSpec::DockerArchive(f) => {
            let Ok(md) = fs::symlink_metadata(f) else {
                return Ok(());
            };
            if md.is_file() && first_tar_entry(f).as_deref() == Some("oci-layout") {
                return Ok(());
            }
            Err(BuildError::OutputNotOurs {
                path: f.clone(),
                what: "an image archive",
            })
        }
    }
}

fn hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

fn link_or_copy(src: &Path, dst: &Path) -> Result<(), BuildError> {
    if fs::hard_link(src, dst).is_ok() {
        return Ok(());
    }
    fs::copy(src, dst).map(|_| ()).map_err(BuildError::io(src))
}

fn write_layout_dir(out: &Output, dir: &Path) -> Result<(), BuildError> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(BuildError::io(&blobs))?;
    for b in &out.blobs {
        let dst = blobs.join(hex(&b.digest));
        match &b.source {
            BlobSource::Path(p) => link_or_copy(p, &dst)?,
            BlobSource::Bytes(bytes) => fs::write(&dst, bytes).map_err(BuildError::io(&dst))?,
            BlobSource::Remote { repository, .. } => return Err(remote_err(repository)),
        }
    }
    let w = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        fs::write(&p, bytes).map_err(BuildError::io(p))
    };
    w("oci-layout", OCI_LAYOUT)?;
    w("index.json", &out.index.bytes)?;
    Ok(())
}

fn tar_header(size: u64, dir: bool) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    if dir {
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
    } else {
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
    }
    h.set_size(size);
    h
}

/// Write `out` as one tar (OCI layout, plus manifest.json when set) to any writer: a
/// file, or a request body streaming into `docker load`.
pub fn write_archive<W: Write>(out: &Output, w: W) -> Result<W, BuildError> {
    let e = |x: io::Error| BuildError::io(out.spec.path())(x);
    let mut b = tar::Builder::new(w);
    // `oci-layout` first: it is how a later run recognises the archive as ours.
    let add = |b: &mut tar::Builder<W>, name: &str, bytes: &[u8]| {
        let mut h = tar_header(bytes.len() as u64, false);
        b.append_data(&mut h, name, bytes)
    };
    add(&mut b, "oci-layout", OCI_LAYOUT).map_err(e)?;
    add(&mut b, "index.json", &out.index.bytes).map_err(e)?;
    if let Some(m) = &out.docker_manifest {
        add(&mut b, "manifest.json", m).map_err(e)?;
    }
    for d in ["blobs/", "blobs/sha256/"] {
        let mut h = tar_header(0, true);
        b.append_data(&mut h, d, io::empty()).map_err(e)?;
    }
    let mut blobs: Vec<&Blob> = out.blobs.iter().collect();
    blobs.sort_by(|a, b| a.digest.cmp(&b.digest));
    for blob in blobs {
        let name = format!("blobs/sha256/{}", hex(&blob.digest));
        match &blob.source {
            BlobSource::Bytes(bytes) => add(&mut b, &name, bytes).map_err(e)?,
            BlobSource::Remote { repository, .. } => return Err(remote_err(repository)),
            BlobSource::Path(p) => {
                let f = File::open(p).map_err(BuildError::io(p))?;
                let size = f.metadata().map_err(BuildError::io(p))?.len();
                let mut h = tar_header(size, false);
                b.append_data(&mut h, &name, f.take(size))
                    .map_err(BuildError::io(p))?;
            }
        }
    }
    b.into_inner().map_err(e)
}

/// Write `out`; returns the path written.
pub fn write(out: &Output) -> Result<PathBuf, BuildError> {
    check(out.spec)?;
    let dest = out.spec.path().clone();
    let parent = parent_of(&dest);
    fs::create_dir_all(&parent).map_err(BuildError::io(&parent))?;
    match out.spec {
        OutputSpec::OciDir(_) => {
            let staging = tempfile::Builder::new()
                .prefix(".sparkimg-out-")
                .tempdir_in(&parent)
                .map_err(BuildError::io(&parent))?;
            write_layout_dir(out, staging.path())?;
            // An empty directory or an earlier layout moves aside first; rename cannot
            // replace a non-empty directory.
            let trash = if dest.exists() {
                let t = tempfile::Builder::new()
                    .prefix(".sparkimg-old-")
                    .tempdir_in(&parent)
                    .map_err(BuildError::io(&parent))?;
                let old = t.path().join("old");
                fs::rename(&dest, &old).map_err(BuildError::io(&dest))?;
                Some(t)
            } else {
                None
            };
            fs::rename(staging.path(), &dest).map_err(BuildError::io(&dest))?;
            drop(trash);
            // The TempDir's path is gone now (renamed); dropping it is a no-op.
            drop(staging);
        }
        OutputSpec::OciArchive(_) | OutputSpec::DockerArchive(_) => {
            let tmp = tempfile::Builder::new()
                .prefix(".sparkimg-out-")
                .tempfile_in(&parent)
                .map_err(BuildError::io(&parent))?;
            let (file, path) = tmp.into_parts();
            let w = write_archive(out, BufWriter::with_capacity(1 << 20, file))?;
            let f = w
                .into_inner()
                .map_err(|e| BuildError::io(&dest)(e.into_error()))?;
            f.sync_all().map_err(BuildError::io(&dest))?;
            drop(f);
            path.persist(&dest)
                .map_err(|e| BuildError::io(&dest)(e.error))?;
        }
    }
    Ok(dest)
}

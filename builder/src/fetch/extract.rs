//! Safe streaming extraction of a `.tgz` into a directory we own.
//!
//! `tar::Entry::unpack_in` silently skips some hostile entries; a distribution that
//! contains any of them is not one Apache built, so we refuse the whole archive instead
//! and say why.

use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{symlink, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use tar::EntryType;

use super::error::FetchError;

/// Guards against archives that would fill the disk.
#[derive(Debug, Clone)]
pub struct ExtractLimits {
    pub max_entry_bytes: u64,
    pub max_total_bytes: u64,
    pub max_entries: u64,
}

impl Default for ExtractLimits {
    /// Spark 4.0.1 unpacks to about 475 MB (research §5.5); these leave ample headroom.
    fn default() -> Self {
        ExtractLimits {
            max_entry_bytes: 2 << 30,
            max_total_bytes: 8 << 30,
            max_entries: 200_000,
        }
    }
}

/// Extract a gzip-compressed tar stream into the existing empty directory `dest`.
/// Returns the number of file bytes written.
pub fn extract_tgz<R: Read>(
    reader: R,
    dest: &Path,
    limits: &ExtractLimits,
    archive_name: &Path,
) -> Result<u64, FetchError> {
    let corrupt = |e: io::Error| FetchError::CorruptArchive {
        path: archive_name.to_path_buf(),
        source: e,
    };
    let mut archive = tar::Archive::new(GzDecoder::new(reader));
    let mut total: u64 = 0;
    let mut count: u64 = 0;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        count += 1;
        if count > limits.max_entries {
            return Err(FetchError::ArchiveTooLarge {
                what: format!("entry count {count}"),
                limit: limits.max_entries,
            });
        }
        let raw_path = entry.path().map_err(corrupt)?.into_owned();
        let shown = raw_path.display().to_string();
        let unsafe_entry = |reason: &str| FetchError::UnsafeArchive {
            entry: shown.clone(),
            reason: reason.to_string(),
        };
        let kind = entry.header().entry_type();
        // Metadata records the tar crate has already applied to the following entry.
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            continue;
        }
        let rel = safe_relative(&raw_path).map_err(&unsafe_entry)?;
        if rel.as_os_str().is_empty() {
            continue; // `./` itself
        }
        let target = dest.join(&rel);
        match kind {
            EntryType::Directory => {
                ensure_dirs(dest, &rel).map_err(|r| unsafe_entry(&r))?;
            }
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.size();
                if size > limits.max_entry_bytes {
                    return Err(FetchError::ArchiveTooLarge {
                        what: format!("entry `{shown}` ({size} bytes)"),
                        limit: limits.max_entry_bytes,
                    });
                }
                total = total.saturating_add(size);
                if total > limits.max_total_bytes {
                    return Err(FetchError::ArchiveTooLarge {
                        what: format!("unpacked size (at least {total} bytes)"),
                        limit: limits.max_total_bytes,
                    });
                }
                prepare_parent(dest, &rel).map_err(|r| unsafe_entry(&r))?;
                write_regular(&mut entry, &target, size, &shown, archive_name)?;
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(corrupt)?
                    .ok_or_else(|| unsafe_entry("symlink without a target"))?
                    .into_owned();
                if !symlink_stays_inside(&rel, &link) {
                    return Err(unsafe_entry(&format!(
                        "symlink to `{}` points outside the distribution",
                        link.display()
                    )));
                }
                prepare_parent(dest, &rel).map_err(|r| unsafe_entry(&r))?;
                symlink(&link, &target)
                    .map_err(|e| FetchError::io(format!("symlink {}", target.display()), e))?;
            }
            EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(corrupt)?
                    .ok_or_else(|| unsafe_entry("hardlink without a target"))?
                    .into_owned();
                write_hardlink(dest, &rel, &link, &target, &unsafe_entry)?;
            }
            EntryType::Char | EntryType::Block => {
                return Err(unsafe_entry("device nodes are not allowed"));
            }
            EntryType::Fifo => return Err(unsafe_entry("FIFOs are not allowed")),
            other => {
                return Err(unsafe_entry(&format!(
                    "unsupported entry type {:?}",
                    other.as_byte() as char
                )))
            }
        }
    }
    Ok(total)
}

/// One regular file, created new, with only its permission bits.
fn write_regular<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    target: &Path,
    size: u64,
    shown: &str,
    archive_name: &Path,
) -> Result<(), FetchError> {
    let corrupt = |e: io::Error| FetchError::CorruptArchive {
        path: archive_name.to_path_buf(),
        source: e,
    };
    // Only the permission bits: setuid/setgid from a download is never wanted, and the
    // owner keeps write access so the cache can be cleaned.
    let mode = (entry.header().mode().map_err(corrupt)? & 0o777) | 0o600;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(target)
        .map_err(|e| FetchError::io(format!("creating {}", target.display()), e))?;
    let written = io::copy(&mut entry.take(size), &mut file).map_err(corrupt)?;
    if written != size {
        return Err(corrupt(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("entry `{shown}` is truncated"),
        )));
    }
    // The umask may have narrowed `mode`; exec bits on bin/ must survive.
    fs::set_permissions(target, fs::Permissions::from_mode(mode))
        .map_err(|e| FetchError::io(format!("chmod {}", target.display()), e))
}

/// A hard link to a regular file already extracted inside `dest`.
fn write_hardlink(
    dest: &Path,
    rel: &Path,
    link: &Path,
    target: &Path,
    unsafe_entry: &dyn Fn(&str) -> FetchError,
) -> Result<(), FetchError> {
    let link_rel = safe_relative(link)
        .map_err(|r| unsafe_entry(&format!("hardlink to `{}`: {r}", link.display())))?;
    let source = dest.join(&link_rel);
    // The source must be a regular file we already extracted: anything else (missing,
    // a symlink, a directory) could reach outside the tree.
    let ok = fs::symlink_metadata(&source)
        .map(|m| m.file_type().is_file())
        .unwrap_or(false)
        && prepare_parent(dest, &link_rel).is_ok();
    if !ok {
        return Err(unsafe_entry(&format!(
            "hardlink to `{}` does not name a file inside the distribution",
            link.display()
        )));
    }
    prepare_parent(dest, rel).map_err(|r| unsafe_entry(&r))?;
    fs::hard_link(&source, target)
        .map_err(|e| FetchError::io(format!("hardlink {}", target.display()), e))
}

/// Normalise an archive path to plain relative components, refusing anything that could
/// land outside the destination.
fn safe_relative(path: &Path) -> Result<PathBuf, &'static str> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => return Err("`..` would escape the distribution"),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute paths are not allowed")
            }
        }
    }
    Ok(out)
}

/// Lexically resolve a relative symlink target from the link's own directory.
fn symlink_stays_inside(rel: &Path, target: &Path) -> bool {
    let mut depth = rel.components().count() as i64 - 1;
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Create `dest/rel` and its ancestors as real directories. An existing symlink on the way
/// is refused: writing through it is how an archive escapes even with lexically-safe paths.
fn ensure_dirs(dest: &Path, rel: &Path) -> Result<(), String> {
    let mut cur = dest.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "`{}` is already a non-directory in the archive",
                    cur.strip_prefix(dest).unwrap_or(&cur).display()
                ))
            }
            Err(_) => {
                fs::create_dir(&cur).map_err(|e| format!("mkdir {}: {e}", cur.display()))?;
                // Readable and traversable whatever the archive says: this is a cache.
                fs::set_permissions(&cur, fs::Permissions::from_mode(0o755))
                    .map_err(|e| format!("chmod {}: {e}", cur.display()))?;
            }
        }
    }
    Ok(())
}

/// Make the parent directory exist and remove a previous entry of the same name, so a
/// duplicate entry cannot make us write through a symlink it planted earlier.
fn prepare_parent(dest: &Path, rel: &Path) -> Result<(), String> {
    if let Some(parent) = rel.parent() {
        ensure_dirs(dest, parent)?;
    }
    let target = dest.join(rel);
    if let Ok(m) = fs::symlink_metadata(&target) {
        if m.file_type().is_dir() {
            return Err("a directory and a file share this name".into());
        }
        fs::remove_file(&target).map_err(|e| format!("replacing {}: {e}", target.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_rules() {
        assert!(symlink_stays_inside(
            Path::new("bin/x"),
            Path::new("../jars/a.jar")
        ));
        assert!(symlink_stays_inside(Path::new("x"), Path::new("jars")));
        assert!(!symlink_stays_inside(Path::new("x"), Path::new("../etc")));
        assert!(!symlink_stays_inside(
            Path::new("a/b"),
            Path::new("../../etc")
        ));
        assert!(!symlink_stays_inside(
            Path::new("a"),
            Path::new("/etc/passwd")
        ));
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            safe_relative(Path::new("./a/./b")).unwrap(),
            PathBuf::from("a/b")
        );
        assert!(safe_relative(Path::new("a/../../b")).is_err());
        assert!(safe_relative(Path::new("/etc/passwd")).is_err());
    }
}

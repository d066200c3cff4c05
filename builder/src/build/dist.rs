//! The distribution stage's input: SPARK_HOME walked once in sorted order, and the
//! `--packages` jars as files of it.

use super::plan;
use super::BuildError;
use super::DistFile;
use super::DistKind;
use crate::layer::plan::Content;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The `--packages` jars as distribution files under `packages/` (which the plan puts
/// in `jars/` of the `packages` layer); size and mtime key the layer cache.
pub fn package_dist(jars: &[plan::PackageJar]) -> Result<Vec<DistFile>, BuildError> {
    jars.iter()
        .map(|j| {
            let md = fs::metadata(&j.path).map_err(BuildError::io(&j.path))?;
            Ok(DistFile {
                rel: format!("{}/{}", plan::PACKAGES_DIR, j.file),
                kind: DistKind::File {
                    path: j.path.clone(),
                    size: md.len(),
                    // The path names the content (a blob by its SHA-256); its mtime only
                    // records the cache's last use, which must not change the layer key.
                    mtime_ns: 0,
                    executable: false,
                },
            })
        })
        .collect()
}

/// Walk SPARK_HOME in sorted order; symlinks are kept as links.
pub fn walk_dist(home: &Path) -> Result<Vec<DistFile>, BuildError> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(home)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
    {
        let e = e.map_err(|err| {
            let path = err.path().unwrap_or(home).to_path_buf();
            BuildError::Io {
                path,
                source: err
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
            }
        })?;
        let rel = match e.path().strip_prefix(home) {
            Ok(r) => r.to_string_lossy().into_owned(),
            Err(_) => continue,
        };
        let md = e.metadata().map_err(|err| BuildError::Io {
            path: e.path().to_path_buf(),
            source: err
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("stat failed")),
        })?;
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            DistKind::Dir
        } else if ft.is_symlink() {
            let t = fs::read_link(e.path()).map_err(BuildError::io(e.path()))?;
            DistKind::Symlink(t.to_string_lossy().into_owned())
        } else if ft.is_file() {
            DistKind::File {
                path: e.path().to_path_buf(),
                size: md.len(),
                mtime_ns: i128::from(md.mtime()) * 1_000_000_000 + i128::from(md.mtime_nsec()),
                executable: md.permissions().mode() & 0o111 != 0,
            }
        } else {
            continue; // sockets, fifos: nothing an image needs
        };
        out.push(DistFile { rel, kind });
    }
    Ok(out)
}

pub(super) fn file_content(path: &Path) -> Result<Content, BuildError> {
    let md = fs::metadata(path).map_err(BuildError::io(path))?;
    Ok(Content::Path {
        path: path.to_path_buf(),
        size: md.len(),
        mtime_ns: i128::from(md.mtime()) * 1_000_000_000 + i128::from(md.mtime_nsec()),
    })
}

/// Spark version of a distribution given by path: from RELEASE ("Spark 3.5.3 built for
/// Hadoop 3.3.4"), else from the spark-core jar's name (names sorted, so the answer does
/// not depend on directory order).
pub fn spark_version(home: &Path) -> Option<String> {
    use crate::fetch::SparkVersion;
    let from_release = fs::read_to_string(home.join("RELEASE"))
        .ok()
        .and_then(|text| SparkVersion::from_release_file(&text));
    let version = from_release.or_else(|| {
        let mut names: Vec<String> = fs::read_dir(home.join("jars"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        names.sort();
        names
            .iter()
            .find_map(|n| SparkVersion::from_core_jar_name(n))
    })?;
    Some(version.to_string())
}

//! Hostile archives: each is refused with a clear error and leaves nothing in the cache.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::common::{sha512sum_line, Server};
use sparkimg::fetch::{fetch, DistSpec, FetchError, FetchOptions, ProgressMode};

/// One raw tar entry. Names are written into the header bytes directly because the tar
/// crate's safe setters (rightly) refuse `..` and absolute paths.
struct Raw<'a> {
    name: &'a str,
    kind: tar::EntryType,
    link: Option<&'a str>,
    data: &'a [u8],
    declared_size: Option<u64>,
}

fn entry(name: &str, kind: tar::EntryType) -> Raw<'_> {
    Raw {
        name,
        kind,
        link: None,
        data: b"",
        declared_size: None,
    }
}

fn tgz(entries: &[Raw]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for e in entries {
        let mut h = tar::Header::new_old();
        {
            let old = h.as_old_mut();
            old.name[..e.name.len()].copy_from_slice(e.name.as_bytes());
            if let Some(l) = e.link {
                old.linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
        }
        h.set_entry_type(e.kind);
        h.set_mode(0o644);
        h.set_size(e.declared_size.unwrap_or(e.data.len() as u64));
        h.set_cksum();
        if e.declared_size.is_some() {
            // Header only: the archive lies about a size it never delivers.
            b.get_mut().write_all(h.as_bytes()).unwrap();
        } else {
            b.append(&h, e.data).unwrap();
        }
    }
    b.into_inner().unwrap().finish().unwrap()
}

fn refuse(name: &str, entries: &[Raw], expect: &str) {
    let data = tgz(entries);
    let dir = tempfile::tempdir().unwrap();
    let file = format!("spark-{name}.tgz");
    let path = dir.path().join(&file);
    fs::write(&path, &data).unwrap();
    fs::write(
        dir.path().join(format!("{file}.sha512")),
        sha512sum_line(&data, &file),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut o = FetchOptions::new(cache.path());
    o.mirrors.clear();
    o.progress = ProgressMode::Quiet;
    o.retry.read_timeout = Duration::from_secs(1);
    let err = fetch(&DistSpec::Dist(path.display().to_string()), &o).unwrap_err();
    let msg = err.to_string();
    assert!(err.is_unsafe_archive(), "{name}: wrong error kind: {msg}");
    assert!(
        msg.contains(expect),
        "{name}: `{msg}` should mention `{expect}`"
    );
    for d in ["blobs/sha512", "dists", "index", "tmp"] {
        let left: Vec<_> = fs::read_dir(cache.path().join(d))
            .unwrap()
            .flatten()
            .collect();
        assert!(left.is_empty(), "{name}: {d} holds {left:?}");
    }
    assert!(!dir.path().join("x").exists() && !Path::new("/tmp/sparkimg-pwned").exists());

    // The same archive as a release on a mirror: there extraction streams beside the
    // download, and must refuse it just the same and leave nothing behind.
    let server = Server::start();
    let release = "spark-3.5.3-bin-hadoop3.tgz";
    server.put(&format!("/m/spark-3.5.3/{release}"), data.clone());
    server.put(
        &format!("/m/spark-3.5.3/{release}.sha512"),
        sha512sum_line(&data, release),
    );
    let cache = tempfile::tempdir().unwrap();
    let mut o = FetchOptions::new(cache.path());
    o.mirrors = vec![server.url("m/")];
    o.progress = ProgressMode::Quiet;
    o.retry.read_timeout = Duration::from_secs(1);
    let spec = DistSpec::Release {
        version: "3.5.3".parse().unwrap(),
        hadoop: None,
        scala: None,
    };
    let err = fetch(&spec, &o).unwrap_err();
    let msg = err.to_string();
    assert!(
        err.is_unsafe_archive(),
        "{name} (mirror): wrong error kind: {msg}"
    );
    assert!(
        msg.contains(expect),
        "{name} (mirror): `{msg}` should mention `{expect}`"
    );
    for d in ["blobs/sha512", "dists", "index", "tmp"] {
        let left: Vec<_> = fs::read_dir(cache.path().join(d))
            .unwrap()
            .flatten()
            .collect();
        assert!(left.is_empty(), "{name} (mirror): {d} holds {left:?}");
    }
}

#[test]
fn path_traversal() {
    let e = Raw {
        data: b"x",
        ..entry("../x", tar::EntryType::Regular)
    };
    refuse("traversal", &[e], "`..`");
}

#[test]
fn absolute_path() {
    let e = Raw {
        data: b"x",
        ..entry("/tmp/sparkimg-pwned", tar::EntryType::Regular)
    };
    refuse("absolute", &[e], "absolute");
}

#[test]
fn symlink_escaping() {
    let e = Raw {
        link: Some("../../../etc"),
        ..entry("spark/conf", tar::EntryType::Symlink)
    };
    refuse("symlink", &[e], "outside");
    let abs = Raw {
        link: Some("/etc/passwd"),
        ..entry("spark/passwd", tar::EntryType::Symlink)
    };
    refuse("symlink-abs", &[abs], "outside");
}

#[test]
fn hardlink_escaping() {
    let e = Raw {
        link: Some("../../etc/passwd"),
        ..entry("spark/passwd", tar::EntryType::Link)
    };
    refuse("hardlink", &[e], "`..`");
    let missing = Raw {
        link: Some("spark/not-there"),
        ..entry("spark/passwd", tar::EntryType::Link)
    };
    refuse("hardlink-missing", &[missing], "inside the distribution");
}

#[test]
fn write_through_planted_symlink() {
    // `spark/d -> .` is inside the tree, but a later `spark/d/...` must not be written
    // through a symlink at all.
    let link = Raw {
        link: Some("."),
        ..entry("spark/d", tar::EntryType::Symlink)
    };
    let file = Raw {
        data: b"x",
        ..entry("spark/d/f", tar::EntryType::Regular)
    };
    refuse("planted-symlink", &[link, file], "non-directory");
}

#[test]
fn device_node_and_fifo() {
    refuse(
        "char",
        &[entry("spark/dev", tar::EntryType::Char)],
        "device",
    );
    refuse(
        "block",
        &[entry("spark/blk", tar::EntryType::Block)],
        "device",
    );
    refuse("fifo", &[entry("spark/fifo", tar::EntryType::Fifo)], "FIFO");
}

#[test]
fn absurd_declared_size() {
    let e = Raw {
        declared_size: Some(1 << 40),
        ..entry("spark/jars/huge.jar", tar::EntryType::Regular)
    };
    refuse("huge", &[e], "exceeds the limit");
}

#[test]
fn total_size_limit() {
    let data = vec![7u8; 4096];
    let entries: Vec<Raw> = ["spark/a", "spark/b", "spark/c"]
        .iter()
        .map(|n| Raw {
            data: &data,
            ..entry(n, tar::EntryType::Regular)
        })
        .collect();
    let bytes = tgz(&entries);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spark-big.tgz");
    fs::write(&path, &bytes).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut o = FetchOptions::new(cache.path());
    o.insecure_skip_verify = true;
    o.progress = ProgressMode::Quiet;
    o.limits.max_total_bytes = 10_000;
    let err = fetch(&DistSpec::Dist(path.display().to_string()), &o).unwrap_err();
    assert!(matches!(err, FetchError::ArchiveTooLarge { .. }), "{err}");
}

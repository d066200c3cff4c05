//! Distribution archives: any tar stream is refused or extracted, and then only inside
//! the destination. After each input the file system is checked: the folders around
//! the destination hold exactly what they held before, and every symbolic link
//! extracted resolves (lexically, from its folder) inside the destination.
#![no_main]

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use sparkimg::fetch::extract::{extract_tgz, ExtractLimits};

fn listing(dir: &Path, skip: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p == skip {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// `link` (a symlink's target) taken from `dir`, lexically, stays under `root`.
fn stays_inside(root: &Path, dir: &Path, link: &Path) -> bool {
    if link.is_absolute() {
        return false;
    }
    let mut depth: Vec<Component> = dir.strip_prefix(root).unwrap().components().collect();
    for c in link.components() {
        match c {
            // The guard pops: `..` above the root leaves it, else it goes up one.
            Component::ParentDir if depth.pop().is_none() => return false,
            Component::ParentDir => {}
            Component::Normal(_) => depth.push(c),
            _ => {}
        }
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let sandbox = tempfile::tempdir().unwrap();
    let outer = sandbox.path().join("outer");
    let dest = outer.join("a/b/root");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(outer.join("a/marker"), b"before").unwrap();
    let before = listing(sandbox.path(), &dest);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    gz.write_all(data).unwrap();
    let tgz = gz.finish().unwrap();
    let limits = ExtractLimits {
        max_entry_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
        max_entries: 1000,
    };
    let _ = extract_tgz(&tgz[..], &dest, &limits, Path::new("fuzz.tgz"));
    assert_eq!(
        listing(sandbox.path(), &dest),
        before,
        "something was written outside"
    );
    assert_eq!(std::fs::read(outer.join("a/marker")).unwrap(), b"before");
    for p in listing(&dest, Path::new("")) {
        let md = std::fs::symlink_metadata(&p).unwrap();
        if md.file_type().is_symlink() {
            let link = std::fs::read_link(&p).unwrap();
            assert!(
                stays_inside(&dest, p.parent().unwrap(), &link),
                "{} -> {} leaves the destination",
                p.display(),
                link.display()
            );
        }
    }
});

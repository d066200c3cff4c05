//! A `.deb` (verified bytes in memory) → its control files and its `data.tar.*` as
//! layer entries, with the archive's owners and modes. Pure apart from decompression.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::sync::Arc;

use crate::layer::plan::{Content, Entry, Kind};

/// What the layer needs of one package.
#[derive(Debug, Clone, Default)]
pub struct Unpacked {
    /// The `control` file (becomes the dpkg status entry).
    pub control: String,
    /// Every other control member (`md5sums`, `conffiles`, the maintainer scripts,
    /// …): copied to `/var/lib/dpkg/info/<pkg>.<name>`, as dpkg keeps them.
    pub info: Vec<(String, Vec<u8>)>,
    /// `preinst` and `postinst`, read for their effects ([`super::configure`]).
    pub preinst: Option<String>,
    pub postinst: Option<String>,
    /// Normalised paths (no `./`, no trailing `/`), in archive order.
    pub entries: Vec<Entry>,
}

fn decompress(name: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len() * 4);
    let err = |e: &dyn std::fmt::Display| format!("{name}: {e}");
    if name.ends_with(".xz") {
        lzma_rs::xz_decompress(&mut BufReader::new(data), &mut out).map_err(|e| err(&e))?;
    } else if name.ends_with(".gz") {
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .map_err(|e| err(&e))?;
    } else if name.ends_with(".zst") {
        zstd::stream::copy_decode(data, &mut out).map_err(|e| err(&e))?;
    } else if name.ends_with(".tar") {
        out.extend_from_slice(data);
    } else {
        return Err(format!("{name}: unknown compression"));
    }
    Ok(out)
}

/// `./usr/bin/x` → `usr/bin/x`; `None` for the root itself; an error for paths that
/// climb out (`..`) — never written, whatever the archive says.
fn clean(raw: &str) -> Result<Option<String>, String> {
    let p = raw.trim_start_matches("./").trim_start_matches('/');
    let p = p.trim_end_matches('/');
    if p.is_empty() || p == "." {
        return Ok(None);
    }
    if p.split('/').any(|c| c == ".." || c.is_empty()) {
        return Err(format!("refusing the archive path '{raw}'"));
    }
    Ok(Some(p.to_string()))
}

/// The members of the ar archive, by name.
fn members(deb: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut ar = ar::Archive::new(deb);
    let mut out = Vec::new();
    while let Some(entry) = ar.next_entry() {
        let mut entry = entry.map_err(|e| format!("not a .deb (ar): {e}"))?;
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| format!("{name}: {e}"))?;
        out.push((name, data));
    }
    Ok(out)
}

fn read_control(tar_bytes: &[u8], out: &mut Unpacked) -> Result<(), String> {
    let mut t = tar::Archive::new(tar_bytes);
    for e in t.entries().map_err(|e| format!("control.tar: {e}"))? {
        let mut e = e.map_err(|e| format!("control.tar: {e}"))?;
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let name = name.trim_start_matches("./").to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data)
            .map_err(|e| format!("control.tar: {e}"))?;
        let text = || String::from_utf8_lossy(&data).into_owned();
        match name.as_str() {
            "control" => {
                out.control = text();
                continue;
            }
            "postinst" => out.postinst = Some(text()),
            "preinst" => out.preinst = Some(text()),
            // A member in a subdirectory is none of dpkg's.
            n if n.contains('/') || n.is_empty() => continue,
            _ => {}
        }
        out.info.push((name, data));
    }
    Ok(())
}

fn read_data(tar_bytes: &[u8], out: &mut Unpacked) -> Result<(), String> {
    let mut t = tar::Archive::new(tar_bytes);
    let mut files: HashMap<String, Arc<[u8]>> = HashMap::new();
    for e in t.entries().map_err(|e| format!("data.tar: {e}"))? {
        let mut e = e.map_err(|e| format!("data.tar: {e}"))?;
        let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let Some(path) = clean(&raw)? else {
            continue;
        };
        let h = e.header();
        let (mode, uid, gid) = (
            h.mode().map_err(|e| format!("{raw}: {e}"))? & 0o7777,
            h.uid().map_err(|e| format!("{raw}: {e}"))?,
            h.gid().map_err(|e| format!("{raw}: {e}"))?,
        );
        let link = || {
            e.link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default()
        };
        let kind = match h.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(link()),
            // A hard link becomes a copy: layers built here hold no link entries.
            tar::EntryType::Link => {
                let target = clean(&link())?.unwrap_or_default();
                let bytes = files
                    .get(&target)
                    .ok_or_else(|| format!("{raw}: hard link to unknown '{target}'"))?;
                Kind::File(Content::Bytes(bytes.clone()))
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut data = Vec::with_capacity(e.size() as usize);
                e.read_to_end(&mut data)
                    .map_err(|e| format!("{raw}: {e}"))?;
                let bytes: Arc<[u8]> = Arc::from(data);
                files.insert(path.clone(), bytes.clone());
                Kind::File(Content::Bytes(bytes))
            }
            other => return Err(format!("{raw}: unsupported entry type {other:?}")),
        };
        out.entries.push(Entry {
            path,
            kind,
            mode,
            uid,
            gid,
        });
    }
    Ok(())
}

/// Unpacks one verified `.deb`.
pub fn unpack(deb: &[u8]) -> Result<Unpacked, String> {
    let mut out = Unpacked::default();
    let members = members(deb)?;
    if members.first().map(|(n, _)| n.as_str()) != Some("debian-binary") {
        return Err("not a .deb: no debian-binary member first".into());
    }
    let mut saw_data = false;
    for (name, data) in &members {
        if name.starts_with("control.tar") {
            read_control(&decompress(name, data)?, &mut out)?;
        } else if name.starts_with("data.tar") {
            read_data(&decompress(name, data)?, &mut out)?;
            saw_data = true;
        }
    }
    if out.control.is_empty() || !saw_data {
        return Err("not a .deb: no control file or no data.tar member".into());
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8], &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(if *kind == tar::EntryType::Directory {
                0o755
            } else {
                0o4755
            });
            h.set_uid(0);
            h.set_gid(if path.contains("games") { 60 } else { 0 });
            h.set_size(data.len() as u64);
            if link.is_empty() {
                b.append_data(&mut h, path, *data).unwrap();
            } else {
                b.append_link(&mut h, path, link).unwrap();
            }
        }
        b.into_inner().unwrap()
    }

    /// A minimal `.deb`: `control` (plus `md5sums`), and `data` gzip-compressed.
    pub(crate) fn make_deb(control: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
        use std::io::Write;
        let ctl = tar_of(&[
            ("./control", tar::EntryType::Regular, control.as_bytes(), ""),
            ("./md5sums", tar::EntryType::Regular, b"x  usr/bin/a\n", ""),
        ]);
        let mut entries = vec![("./", tar::EntryType::Directory, &b""[..], "")];
        for (p, d) in files {
            entries.push((p, tar::EntryType::Regular, d, ""));
        }
        let data = tar_of(&entries);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let data = gz.finish().unwrap();
        let mut ar = ar::Builder::new(Vec::new());
        for (name, bytes) in [
            ("debian-binary", &b"2.0\n"[..]),
            ("control.tar", &ctl[..]),
            ("data.tar.gz", &data[..]),
        ] {
            let h = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
            ar.append(&h, bytes).unwrap();
        }
        ar.into_inner().unwrap()
    }

    #[test]
    fn unpacks_control_and_data() {
        let deb = make_deb(
            "Package: a\nVersion: 1\nArchitecture: all\n",
            &[("./usr/", b""), ("./usr/bin/a", b"#!/bin/sh\n")],
        );
        let u = unpack(&deb).unwrap();
        assert!(u.control.starts_with("Package: a"));
        assert_eq!(u.info[0].0, "md5sums");
        let paths: Vec<&str> = u.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["usr", "usr/bin/a"]);
        assert_eq!(u.entries[1].mode, 0o4755);
        assert!(
            matches!(&u.entries[1].kind, Kind::File(Content::Bytes(b)) if &b[..] == b"#!/bin/sh\n")
        );
    }

    #[test]
    fn hard_links_copy_and_hostile_paths_refused() {
        let data = tar_of(&[
            ("./usr/games/x", tar::EntryType::Regular, b"abc", ""),
            ("./usr/games/y", tar::EntryType::Link, b"", "./usr/games/x"),
        ]);
        let mut u = Unpacked::default();
        read_data(&data, &mut u).unwrap();
        assert_eq!(u.entries[1].gid, 60);
        assert_eq!(u.entries[1].kind, u.entries[0].kind);
        assert!(clean("./usr/../../etc/passwd").is_err());
        assert_eq!(clean("./").unwrap(), None);
        assert!(unpack(b"!<arch>\n").is_err());
        assert!(unpack(b"garbage").is_err());
    }
}

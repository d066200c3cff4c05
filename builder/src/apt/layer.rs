//! Pure: the package layer's entries from unpacked packages over the base: every
//! package's files (through the base's top-level directory symlinks, as dpkg writes
//! through merged-/usr links), the dpkg database, the alternatives links and what
//! [`configure`] reproduces of the maintainer scripts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::configure;
use super::control::Stanza;
use super::scripts::{self, Alternative};
use super::status;
use super::unpack::Unpacked;
use crate::layer::basefs::{BaseFs, Node};
use crate::layer::plan::{self, Content, Entry, Kind, LayerPlan, Variant};

pub const NAME: &str = "os-packages";

/// `lib/x/libz.so.1` → `usr/lib/x/libz.so.1` when the base's `lib` is a symlink to
/// `usr/lib`; `None` for the symlink itself (the base's link stays).
fn through_base_links(base: &BaseFs, path: &str) -> Option<String> {
    let (top, rest) = path.split_once('/').unwrap_or((path, ""));
    match base.nodes.get(top) {
        Some(Node::Symlink(t)) => {
            let t = t.trim_start_matches('/').trim_end_matches('/');
            if t.is_empty() || t.contains("..") {
                return Some(path.to_string());
            }
            (!rest.is_empty()).then(|| format!("{t}/{rest}"))
        }
        _ => Some(path.to_string()),
    }
}

fn bytes_entry(path: String, data: Vec<u8>) -> Entry {
    Entry {
        path,
        kind: Kind::File(Content::Bytes(Arc::from(data))),
        mode: 0o644,
        uid: 0,
        gid: 0,
    }
}

fn symlink(path: &str, target: &str) -> Entry {
    Entry {
        path: path.trim_start_matches('/').to_string(),
        kind: Kind::Symlink(target.to_string()),
        mode: 0o777,
        uid: 0,
        gid: 0,
    }
}

/// The alternatives' symlinks, for links that neither the base nor the layer has.
fn alternative_links(
    base: &BaseFs,
    files: &BTreeMap<String, Entry>,
    alts: &[Alternative],
) -> Vec<Entry> {
    let mut out = Vec::new();
    for a in scripts::choose(alts) {
        let Some(link) = through_base_links(base, a.link.trim_start_matches('/')) else {
            continue;
        };
        if files.contains_key(&link) || base.resolve(&link).is_some() {
            continue;
        }
        let alt_path = format!("etc/alternatives/{}", a.name);
        out.push(symlink(&link, &format!("/{alt_path}")));
        out.push(symlink(&alt_path, &a.path));
    }
    out
}

/// Maintainer scripts and the debconf script: executable in `info/`, as dpkg keeps them.
fn info_mode(name: &str) -> u32 {
    match name {
        "preinst" | "postinst" | "prerm" | "postrm" | "config" => 0o755,
        _ => 0o644,
    }
}

/// One layer holding `debs` (in the order given), for `variant`'s images, and per
/// package the script effects nothing reproduces ([`configure`]). Packages named in
/// `unpacked` get dpkg's `unpacked` status, the others `installed`.
pub fn plan(
    debs: &[Unpacked],
    base: &BaseFs,
    base_status: &str,
    variant: Variant,
    unpacked: &[String],
) -> Result<(LayerPlan, configure::Undone), String> {
    let mut files: BTreeMap<String, Entry> = BTreeMap::new();
    let mut stanzas: Vec<Stanza> = Vec::new();
    let mut info: Vec<Entry> = Vec::new();
    let mut alts = Vec::new();
    let mut scripts = Vec::new();
    for deb in debs {
        let name = status::entry(&deb.control, status::INSTALLED, &[])
            .and_then(|st| st.get("Package").map(str::to_string))
            .ok_or("a package without a control stanza")?;
        let unconfigured = unpacked.contains(&name);
        let state = match unconfigured {
            true => status::UNPACKED,
            false => status::INSTALLED,
        };
        let conffiles = conffiles(deb, unconfigured);
        let st = status::entry(&deb.control, state, &conffiles)
            .ok_or("a package without a control stanza")?;
        let list_name = status::list_name(&st);
        let mut listed = Vec::new();
        for e in &deb.entries {
            listed.push(e.path.clone());
            let Some(path) = through_base_links(base, &e.path) else {
                continue;
            };
            // Directories shared by packages keep the first one's entry.
            if matches!(e.kind, Kind::Dir) && files.contains_key(&path) {
                continue;
            }
            files.insert(path.clone(), Entry { path, ..e.clone() });
        }
        info.push(bytes_entry(
            format!("{}/{list_name}.list", status::INFO),
            status::list_text(&listed).into_bytes(),
        ));
        for (name, data) in &deb.info {
            let mut e = bytes_entry(format!("{}/{list_name}.{name}", status::INFO), data.clone());
            e.mode = info_mode(name);
            info.push(e);
        }
        if let Some(p) = &deb.postinst {
            alts.extend(scripts::alternatives(p));
        }
        scripts.push((name, deb));
        stanzas.push(st);
    }
    let outcome = configure::configure(&script_views(&scripts), base, &files);
    let links = alternative_links(base, &files, &alts);
    for e in outcome.entries {
        files.entry(e.path.clone()).or_insert(e);
    }
    let mut entries: Vec<Entry> = files.into_values().collect();
    entries.extend(links);
    entries.extend(info);
    // Triggers of refused packages never matter: the build stops.
    let base_status = status::with_pending(base_status, &outcome.activated);
    entries.push(bytes_entry(
        status::STATUS.to_string(),
        status::merged(&base_status, &stanzas).into_bytes(),
    ));
    let have: BTreeSet<String> = entries.iter().map(|e| e.path.clone()).collect();
    plan::add_parents(&mut entries, 0);
    entries.retain(|e| have.contains(&e.path) || base.resolve(&e.path).is_none());
    plan::sort_entries(&mut entries);
    let layer = LayerPlan {
        name: NAME,
        only: Some(variant),
        entries,
    };
    Ok((layer, outcome.unreproduced))
}

/// What dpkg's status records for the package's conffiles ([`status::conffiles`]).
fn conffiles(deb: &Unpacked, unconfigured: bool) -> Vec<(String, String)> {
    let Some((_, list)) = deb.info.iter().find(|(n, _)| n == "conffiles") else {
        return Vec::new();
    };
    let md5 = |path: &str| {
        deb.entries
            .iter()
            .find(|e| e.path == path)
            .and_then(|e| match &e.kind {
                Kind::File(Content::Bytes(b)) => Some(crate::digest::md5_hex(b)),
                _ => None,
            })
    };
    status::conffiles(&String::from_utf8_lossy(list), unconfigured, md5)
}

fn script_views<'a>(debs: &'a [(String, &'a Unpacked)]) -> Vec<configure::Scripts<'a>> {
    let info = |d: &'a Unpacked, n: &str| {
        d.info
            .iter()
            .find(|(k, _)| k == n)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    };
    debs.iter()
        .map(|(name, d)| configure::Scripts {
            package: name,
            preinst: d.preinst.as_deref(),
            postinst: d.postinst.as_deref(),
            triggers: info(d, "triggers"),
            paths: d.entries.iter().map(|e| e.path.as_str()).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::unpack::{tests::make_deb, unpack};
    use super::*;

    fn base() -> BaseFs {
        let mut b = BaseFs::default();
        b.apply_layer(vec![
            ("lib".into(), Node::Symlink("usr/lib".into())),
            ("usr".into(), Node::Dir),
            ("usr/bin".into(), Node::Dir),
            ("var/lib/dpkg/status".into(), Node::File(Some(b"".to_vec()))),
        ]);
        b
    }

    #[test]
    fn files_through_links_dpkg_database_and_alternatives() {
        let mut a = unpack(&make_deb(
            "Package: a\nVersion: 1\nArchitecture: amd64\nMulti-Arch: same\n",
            &[
                ("./lib/", b""),
                ("./lib/x/liba.so.1", b"ELF"),
                ("./usr/bin/a1", b"#!"),
            ],
        ))
        .unwrap();
        a.postinst = Some("update-alternatives --install /usr/bin/a a /usr/bin/a1 5\n".into());
        let b = unpack(&make_deb(
            "Package: b\nVersion: 2\nArchitecture: all\n",
            &[("./usr/bin/b", b"#!")],
        ))
        .unwrap();
        let base_status = "Package: libc6\nStatus: install ok installed\nVersion: 2\n";
        let (p, undone) = plan(&[a, b], &base(), base_status, Variant::Python, &[]).unwrap();
        assert!(undone.is_empty());
        let paths: Vec<&str> = p.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "etc",
                "etc/alternatives",
                "etc/alternatives/a",
                "usr/bin/a",
                "usr/bin/a1",
                "usr/bin/b",
                "usr/lib",
                "usr/lib/x",
                "usr/lib/x/liba.so.1",
                "var",
                "var/lib",
                "var/lib/dpkg",
                "var/lib/dpkg/info",
                "var/lib/dpkg/info/a:amd64.list",
                "var/lib/dpkg/info/a:amd64.md5sums",
                "var/lib/dpkg/info/b.list",
                "var/lib/dpkg/info/b.md5sums",
                "var/lib/dpkg/status",
            ]
        );
        let status = p
            .entries
            .iter()
            .find(|e| e.path == "var/lib/dpkg/status")
            .unwrap();
        let Kind::File(Content::Bytes(s)) = &status.kind else {
            panic!()
        };
        let s = String::from_utf8_lossy(s);
        assert!(s.starts_with("Package: libc6\nStatus: install ok installed\n"));
        assert!(s.contains("Package: a\nStatus: install ok installed\nVersion: 1\n"));
        let list = p
            .entries
            .iter()
            .find(|e| e.path.ends_with("a:amd64.list"))
            .unwrap();
        assert_eq!(
            list.kind,
            Kind::File(Content::Bytes(Arc::from(
                &b"/.\n/lib\n/lib/x/liba.so.1\n/usr/bin/a1\n"[..]
            )))
        );
        let link = p.entries.iter().find(|e| e.path == "usr/bin/a").unwrap();
        assert_eq!(link.kind, Kind::Symlink("/etc/alternatives/a".into()));
        assert_eq!(p.only, Some(Variant::Python));
    }

    #[test]
    fn r_gets_its_renviron() {
        let r = unpack(&make_deb(
            "Package: r-base-core\nVersion: 4.2.2\nArchitecture: amd64\n",
            &[("./usr/lib/R/etc/Renviron.ucf", b"R_LIBS=x\n")],
        ))
        .unwrap();
        let (p, _) = plan(std::slice::from_ref(&r), &base(), "", Variant::R, &[]).unwrap();
        let made = p
            .entries
            .iter()
            .find(|e| e.path == "etc/R/Renviron")
            .unwrap();
        assert_eq!(
            made.kind,
            Kind::File(Content::Bytes(Arc::from(&b"R_LIBS=x\n"[..])))
        );
        // Another package shipping the same file gets no copy.
        let mut other = r;
        other.control = "Package: other\nVersion: 1\nArchitecture: all\n".into();
        let (p, _) = plan(&[other], &base(), "", Variant::R, &[]).unwrap();
        assert!(!p.entries.iter().any(|e| e.path == "etc/R/Renviron"));
    }
}

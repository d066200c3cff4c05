//! Pure: the base's installed OS packages from its package database (dpkg's
//! `var/lib/dpkg/status`, apk's `lib/apk/db/installed`) and its distribution from
//! `os-release`, as purls `pkg:deb/<distro>/…` and `pkg:apk/<distro>/…`.

use std::collections::BTreeMap;

use super::{encode, encode_segment, Kind, Package};

pub use crate::layer::basefs::{APK_INSTALLED, DPKG_STATUS, OS_RELEASE};

/// The distribution, from os-release.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OsRelease {
    /// `ID` (`debian`, `alpine`, `ubuntu`).
    pub id: String,
    /// `VERSION_ID` (`12`, `3.20.3`); empty on testing/unstable.
    pub version_id: String,
    pub pretty_name: String,
}

impl OsRelease {
    /// The purl `distro` qualifier: `debian-12`, `alpine-3.20.3`.
    pub fn distro(&self) -> String {
        if self.version_id.is_empty() {
            self.id.clone()
        } else {
            format!("{}-{}", self.id, self.version_id)
        }
    }
}

/// `KEY=VALUE` lines with optional quotes; unknown keys ignored.
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|x| x.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
            .unwrap_or(v);
        map.insert(k.trim().to_string(), v.to_string());
    }
    let get = |k: &str| map.get(k).cloned().unwrap_or_default();
    OsRelease {
        id: get("ID"),
        version_id: get("VERSION_ID"),
        pretty_name: get("PRETTY_NAME"),
    }
}

/// Paragraphs of `Key: value` fields (RFC 822 style, continuation lines dropped), as
/// dpkg writes its status file.
fn paragraphs(text: &str, sep: char) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    let mut cur = BTreeMap::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(sep) {
            cur.insert(k.to_string(), v.trim().to_string());
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// dpkg packages whose status is `installed` (not config-files, not half-installed).
pub fn parse_dpkg_status(text: &str, os: &OsRelease) -> Vec<Package> {
    let distro = os.distro();
    let namespace = if os.id.is_empty() { "debian" } else { &os.id };
    paragraphs(text, ':')
        .into_iter()
        .filter(|p| {
            p.get("Status")
                .is_some_and(|s| s.split_whitespace().last() == Some("installed"))
        })
        .filter_map(|p| {
            let name = p.get("Package")?;
            let version = p.get("Version")?;
            let arch = p.get("Architecture").map(String::as_str).unwrap_or("");
            let purl = format!(
                "pkg:deb/{}/{}@{}?arch={}&distro={}",
                encode_segment(namespace),
                encode_segment(name),
                encode_segment(version),
                encode(arch),
                encode(&distro)
            );
            let mut pkg = Package::new(Kind::Os, name, version, purl);
            pkg.comment = p.get("Source").map(|s| format!("source package {s}"));
            Some(pkg)
        })
        .collect()
}

/// apk's installed database: paragraphs of one-letter fields (`P:` name, `V:` version,
/// `A:` architecture).
pub fn parse_apk_installed(text: &str, os: &OsRelease) -> Vec<Package> {
    let distro = os.distro();
    let namespace = if os.id.is_empty() { "alpine" } else { &os.id };
    paragraphs(text, ':')
        .into_iter()
        .filter_map(|p| {
            let name = p.get("P")?;
            let version = p.get("V")?;
            let arch = p.get("A").map(String::as_str).unwrap_or("");
            let purl = format!(
                "pkg:apk/{}/{}@{}?arch={}&distro={}",
                encode_segment(namespace),
                encode_segment(name),
                encode_segment(version),
                encode(arch),
                encode(&distro)
            );
            Some(Package::new(Kind::Os, name, version, purl))
        })
        .collect()
}

/// The OS packages of a base, given a reader of its merged file system; a note instead
/// when it has no package database we know.
pub fn os_packages<'a>(read: impl Fn(&str) -> Option<&'a [u8]>) -> (Vec<Package>, Vec<String>) {
    let os = OS_RELEASE
        .iter()
        .find_map(|p| read(p))
        .map(|b| parse_os_release(&String::from_utf8_lossy(b)))
        .unwrap_or_default();
    if let Some(b) = read(DPKG_STATUS) {
        return (parse_dpkg_status(&String::from_utf8_lossy(b), &os), vec![]);
    }
    if let Some(b) = read(APK_INSTALLED) {
        return (
            parse_apk_installed(&String::from_utf8_lossy(b), &os),
            vec![],
        );
    }
    let what = if os.pretty_name.is_empty() {
        "the base".to_string()
    } else {
        format!("the base ({})", os.pretty_name)
    };
    let note = format!(
        "{what} has no package database ({DPKG_STATUS} or {APK_INSTALLED}): its OS \
         packages are not listed"
    );
    (Vec::new(), vec![note])
}

//! Pure: dpkg's database in the image: what the base has installed
//! (`/var/lib/dpkg/status`), and the status file and `info/<pkg>.list` files the
//! package layer writes so dpkg, scanners and SBOM tools see what it added.

use super::control::{self, Stanza};
use super::packages::Package;

pub const STATUS: &str = "var/lib/dpkg/status";
pub const INFO: &str = "var/lib/dpkg/info";
/// A package whose maintainer scripts' effects are all in the image.
pub const INSTALLED: &str = "install ok installed";
/// A package left unconfigured on purpose (`--apt-allow-unconfigured`): a later
/// `apt-get` or `dpkg --configure -a` in a derived image runs its `postinst`.
pub const UNPACKED: &str = "install ok unpacked";

/// The packages dpkg considers installed (`Status: install ok installed`; half-removed
/// or config-files-only entries do not satisfy anything).
pub fn installed(status: &str) -> Result<Vec<Package>, String> {
    let mut out = Vec::new();
    for st in control::parse(status) {
        let ok = st
            .get("Status")
            .is_some_and(|s| s.split_whitespace().last() == Some("installed"));
        if !ok {
            continue;
        }
        if let Some(p) = Package::from_stanza(&st, usize::MAX)? {
            out.push(p);
        }
    }
    Ok(out)
}

/// A new package's status entry: its `control` stanza with `Status` (one of
/// [`INSTALLED`], [`UNPACKED`]) after `Package`, and `Conffiles` (path, MD5 or, while
/// unpacked, `newconffile`) before `Description`, as dpkg writes them.
pub fn entry(control_text: &str, status: &str, conffiles: &[(String, String)]) -> Option<Stanza> {
    let st = control::parse(control_text).into_iter().next()?;
    st.get("Package")?;
    let conf = (!conffiles.is_empty()).then(|| {
        let lines: Vec<String> = conffiles
            .iter()
            .map(|(p, h)| format!("\n{p} {h}"))
            .collect();
        ("Conffiles".to_string(), lines.concat())
    });
    let mut conf = conf.into_iter();
    let mut fields = Vec::with_capacity(st.fields.len() + 2);
    for (k, v) in st.fields {
        if k.eq_ignore_ascii_case("Description") {
            fields.extend(conf.by_ref());
        }
        let is_package = k.eq_ignore_ascii_case("Package");
        fields.push((k, v));
        if is_package {
            fields.push(("Status".to_string(), status.to_string()));
        }
    }
    fields.extend(conf);
    Some(Stanza { fields })
}

/// The conffiles of a package's `conffiles` member with what dpkg records for each:
/// the MD5 of the file `content` gives, or `newconffile` while it is unpacked. Flagged
/// entries (`remove-on-upgrade`) name no file of the package and are left out.
pub fn conffiles(
    list: &str,
    unpacked: bool,
    content: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in list.lines().map(str::trim).filter(|l| l.starts_with('/')) {
        let hash = match unpacked {
            true => Some("newconffile".to_string()),
            false => content(line.trim_start_matches('/')),
        };
        if let Some(h) = hash {
            out.push((line.to_string(), h));
        }
    }
    out
}

/// The status file of the image: the base's entries, minus those the layer replaces
/// (upgrades), then the new ones in name order.
pub fn merged(base: &str, added: &[Stanza]) -> String {
    let replaced = |st: &Stanza| {
        let name = st.get("Package");
        added.iter().any(|a| a.get("Package") == name)
    };
    let mut new: Vec<&Stanza> = added.iter().collect();
    new.sort_by_key(|s| s.get("Package").unwrap_or("").to_string());
    let all = control::parse(base)
        .into_iter()
        .filter(|s| !replaced(s))
        .collect::<Vec<_>>();
    let mut out = String::new();
    for st in all.iter().chain(new) {
        out.push_str(&st.render());
        out.push('\n');
    }
    out
}

/// The base's status with `activated` ((package, trigger), from the layer's files)
/// recorded as dpkg leaves a trigger it has not run: the package `triggers-pending`
/// with the trigger in `Triggers-Pending`, for a later `dpkg --configure -a`.
pub fn with_pending(base: &str, activated: &[(String, String)]) -> String {
    if activated.is_empty() {
        return base.to_string();
    }
    let mut out = String::new();
    for mut st in control::parse(base) {
        let name = st.get("Package").unwrap_or("").to_string();
        let mine: Vec<&str> = activated
            .iter()
            .filter(|(p, _)| *p == name)
            .map(|(_, t)| t.as_str())
            .collect();
        if !mine.is_empty() && st.get("Status") == Some(INSTALLED) {
            for (k, v) in st.fields.iter_mut() {
                if k == "Status" {
                    *v = "install ok triggers-pending".into();
                }
            }
            let at = st
                .fields
                .iter()
                .position(|(k, _)| k == "Status")
                .map_or(0, |i| i + 1);
            st.fields
                .insert(at, ("Triggers-Pending".into(), mine.join(" ")));
        }
        out.push_str(&st.render());
        out.push('\n');
    }
    out
}

/// The status entry of a package the layer adds, from its index record: the fields an
/// SBOM reads (`Package`, `Status`, `Version`, `Architecture`, `Source`). The index
/// record carries them as the `.deb`'s control does, so a layer planned from the cache
/// (never unpacked) is described as the one built.
pub fn record(p: &Package, status: &str) -> Stanza {
    let mut fields = vec![
        ("Package".to_string(), p.name.clone()),
        ("Status".to_string(), status.to_string()),
        ("Version".to_string(), p.version.to_string()),
        ("Architecture".to_string(), p.arch.clone()),
    ];
    if let Some(s) = &p.source_package {
        fields.push(("Source".to_string(), s.clone()));
    }
    Stanza { fields }
}

/// `info/<pkg>.list` (`<pkg>:<arch>.list` for `Multi-Arch: same` packages, as dpkg
/// names them): one absolute path per line, `/.` first, in archive order.
pub fn list_name(st: &Stanza) -> String {
    let name = st.get("Package").unwrap_or("");
    match (st.get("Multi-Arch"), st.get("Architecture")) {
        (Some("same"), Some(arch)) => format!("{name}:{arch}"),
        _ => name.to_string(),
    }
}

pub fn list_text(paths: &[String]) -> String {
    let mut out = String::from("/.\n");
    for p in paths {
        out.push('/');
        out.push_str(p);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_TEXT: &str = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 2.36-9+deb12u4\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: python3\nStatus: install ok installed\nVersion: 3.9.2-3\nProvides: python3-profiler (= 3.9.2-3)\n";

    #[test]
    fn only_installed_entries_count() {
        let i = installed(STATUS_TEXT).unwrap();
        let names: Vec<&str> = i.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["libc6", "python3"]);
        assert_eq!(i[1].provides[0].0, "python3-profiler");
    }

    #[test]
    fn new_entries_replace_and_follow_the_base() {
        let e = entry(
            "Package: python3\nVersion: 3.11.2-1+b1\nArchitecture: amd64\nDescription: x\n more\n",
            INSTALLED,
            &[],
        )
        .unwrap();
        assert_eq!(
            e.fields[1],
            ("Status".into(), "install ok installed".into())
        );
        let z = entry(
            "Package: aaa\nVersion: 1\nArchitecture: all\n",
            UNPACKED,
            &[],
        )
        .unwrap();
        let out = merged(STATUS_TEXT, &[e, z]);
        let names: Vec<String> = control::parse(&out)
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s.get("Package").unwrap(),
                    s.get("Version").unwrap()
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                "libc6 2.36-9+deb12u4",
                "gone 1",
                "aaa 1",
                "python3 3.11.2-1+b1"
            ]
        );
        assert!(out.contains("Description: x\n more\n"));
        let i = installed(&out).unwrap();
        assert_eq!(i.len(), 2);
        assert!(entry("Version: 1\n", INSTALLED, &[]).is_none());
        // An unconfigured package satisfies nothing.
        assert!(!i.iter().any(|p| p.name == "aaa"));
    }

    #[test]
    fn records_from_the_index_carry_what_the_sbom_reads() {
        let idx = "Package: libpython3.11-minimal\nSource: python3.11\nVersion: 1:3.11.2-6+deb12u6\nArchitecture: amd64\nFilename: pool/x.deb\nSHA256: AB\n";
        let p = Package::from_stanza(&control::parse(idx)[0], 0)
            .unwrap()
            .unwrap();
        assert_eq!(
            record(&p, INSTALLED).render(),
            "Package: libpython3.11-minimal\nStatus: install ok installed\nVersion: 1:3.11.2-6+deb12u6\nArchitecture: amd64\nSource: python3.11\n"
        );
        let plain = Package::from_stanza(&control::parse("Package: a\nVersion: 2\n")[0], 0)
            .unwrap()
            .unwrap();
        assert_eq!(record(&plain, UNPACKED).get("Source"), None);
        // An upgrade replaces the base's entry.
        let out = merged(
            STATUS_TEXT,
            &[record(&p, INSTALLED), record(&plain, INSTALLED)],
        );
        let i = installed(&out).unwrap();
        let names: Vec<&str> = i.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["libc6", "python3", "a", "libpython3.11-minimal"]);
    }

    #[test]
    fn conffiles_as_dpkg_records_them() {
        let list = "/etc/debconf.conf\nremove-on-upgrade /etc/old.conf\n/etc/gone\n";
        let md5 = |p: &str| (p == "etc/debconf.conf").then(|| "8c06".to_string());
        let c = conffiles(list, false, md5);
        assert_eq!(c, [("/etc/debconf.conf".to_string(), "8c06".to_string())]);
        let e = entry(
            "Package: debconf\nVersion: 1.5.82\nDescription: x\n y\n",
            INSTALLED,
            &c,
        )
        .unwrap();
        assert_eq!(
            e.render(),
            "Package: debconf\nStatus: install ok installed\nVersion: 1.5.82\nConffiles:\n /etc/debconf.conf 8c06\nDescription: x\n y\n"
        );
        let u = conffiles(list, true, md5);
        assert_eq!(u[1], ("/etc/gone".to_string(), "newconffile".to_string()));
        let e = entry("Package: a\nVersion: 1\n", UNPACKED, &u).unwrap();
        assert!(e
            .render()
            .ends_with("Conffiles:\n /etc/debconf.conf newconffile\n /etc/gone newconffile\n"));
    }

    #[test]
    fn pending_triggers_on_the_base() {
        let out = with_pending(STATUS_TEXT, &[("libc6".into(), "/usr/share/x".into())]);
        let st = &control::parse(&out)[0];
        assert_eq!(st.get("Status"), Some("install ok triggers-pending"));
        assert_eq!(st.get("Triggers-Pending"), Some("/usr/share/x"));
        assert_eq!(with_pending(STATUS_TEXT, &[]), STATUS_TEXT);
    }

    #[test]
    fn list_files() {
        let libc = &control::parse(STATUS_TEXT)[0];
        assert_eq!(list_name(libc), "libc6:amd64");
        assert_eq!(list_name(&control::parse(STATUS_TEXT)[2]), "python3");
        assert_eq!(
            list_text(&["usr".into(), "usr/bin/x".into()]),
            "/.\n/usr\n/usr/bin/x\n"
        );
    }
}

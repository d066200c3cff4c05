//! Pure: what "configured" means for the packages of one layer, without running a
//! script: each package's `preinst`, `postinst` and `triggers` classified
//! ([`super::maintscripts`]) against the image (base plus layer), giving the entries
//! that reproduce their effects and, per package, the effects nothing reproduces.

use std::collections::BTreeMap;

use super::maintscripts::{self, Effect};
use super::scripts::{self, Made};
use crate::layer::basefs::{BaseFs, Node, SCRIPT_PATHS};
use crate::layer::plan::{Content, Entry, Kind};

/// An effect the classifier cannot follow, read in the package's bookworm script and
/// found to do nothing on a fresh install, or to be reproduced by [`scripts::MADE`].
pub struct Review {
    pub package: &'static str,
    /// As [`Effect::name`] says it.
    pub effect: &'static str,
    pub why: &'static str,
    /// (prefix, suffix) of image paths whose presence voids the review.
    pub voided_by: &'static [(&'static str, &'static str)],
}

pub const REVIEWED: &[Review] = &[
    Review {
        package: "procps",
        effect: "chmod",
        why: "preinst: only on an upgrade",
        voided_by: &[],
    },
    Review {
        package: "procps",
        effect: "mv",
        why: "only moves an old version's /etc/init.d/procps.sh",
        voided_by: &[("etc/init.d/procps.sh", "")],
    },
    Review {
        package: "procps",
        effect: "update-alternatives with computed arguments",
        why: "only for *.procps programs, which procps no longer ships",
        voided_by: &[("usr/bin/", ".procps"), ("bin/", ".procps")],
    },
    Review {
        package: "python3",
        effect: "writes /etc/python3/debian_config",
        why: "made from data",
        voided_by: &[],
    },
    Review {
        package: "python3",
        effect: "runs $hook",
        why: "the *.rtupdate hooks of /usr/share/python3/runtime.d",
        voided_by: &[("usr/share/python3/runtime.d/", ".rtupdate")],
    },
    Review {
        package: "python3.11-minimal",
        effect: "mkdir",
        why: "/usr/local/lib/python3.11/dist-packages, made from data",
        voided_by: &[],
    },
    Review {
        package: "python3.11-minimal",
        effect: "chmod",
        why: "0755 root:root, as the layer makes the directories",
        voided_by: &[("etc/staff-group-for-usr-local", "")],
    },
    Review {
        package: "python3.11-minimal",
        effect: "chown",
        why: "0755 root:root, as the layer makes the directories",
        voided_by: &[("etc/staff-group-for-usr-local", "")],
    },
    Review {
        package: "python3.11-minimal",
        effect: "runs $filt",
        why: "a filter (cat or fgrep)",
        voided_by: &[],
    },
    Review {
        package: "python3.11-minimal",
        effect: "runs $hook",
        why: "under `bc=yes`, which the script never sets",
        voided_by: &[],
    },
    Review {
        package: "python3.11-minimal",
        effect: "rm /var/lib/python/python3.11_installed",
        why: "under `bc=yes`, which the script never sets",
        voided_by: &[],
    },
    Review {
        package: "python3.11-minimal",
        effect: "rm /var/lib/python",
        why: "under `bc=yes`, which the script never sets",
        voided_by: &[],
    },
    Review {
        package: "readline-common",
        effect: "cp",
        why: "/etc/inputrc, copied from data",
        voided_by: &[],
    },
];

/// Per package, the effects nothing reproduces.
pub type Undone = Vec<(String, Vec<String>)>;

/// One package's scripts, as the layer has them.
pub struct Scripts<'a> {
    pub package: &'a str,
    pub preinst: Option<&'a str>,
    pub postinst: Option<&'a str>,
    pub triggers: Option<&'a str>,
    /// The package's paths as the layer writes them.
    pub paths: Vec<&'a str>,
}

/// The outcome for a layer: entries to add, per package what stays undone, and the
/// base's file triggers the layer's files activate: (interested package, trigger).
#[derive(Debug, Default)]
pub struct Outcome {
    pub entries: Vec<Entry>,
    pub unreproduced: Undone,
    pub activated: Vec<(String, String)>,
}

/// dpkg's file triggers of the base (`triggers/File`: `PATH PACKAGE[/noawait]`) that
/// a package's paths fall under: (trigger path, interested package without `:arch`).
fn base_file_triggers(base: &BaseFs, paths: &[&str]) -> Vec<(String, String)> {
    let Some(file) = base.read(crate::layer::basefs::DPKG_FILE_TRIGGERS) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(file).lines() {
        let (Some(path), Some(pkg)) = (
            line.split_whitespace().next(),
            line.split_whitespace().nth(1),
        ) else {
            continue;
        };
        let dir = path.trim_start_matches('/').trim_end_matches('/');
        let under = |p: &&str| *p == dir || p.strip_prefix(dir).is_some_and(|r| r.starts_with('/'));
        if paths.iter().any(under) {
            let pkg = pkg.split('/').next().unwrap_or(pkg);
            let pkg = pkg.split(':').next().unwrap_or(pkg);
            out.push((path.to_string(), pkg.to_string()));
        }
    }
    out
}

fn exists(base: &BaseFs, files: &BTreeMap<String, Entry>, path: &str) -> bool {
    let path = path.trim_start_matches('/');
    files.contains_key(path) || base.resolve(path).is_some()
}

/// Whether the base surely lacks `path`: it records names only under
/// [`SCRIPT_PATHS`] (through its top-level symlinks), so elsewhere it cannot tell.
fn base_lacks(base: &BaseFs, path: &str) -> bool {
    let path = path.trim_start_matches('/');
    let seen = |p: &str| SCRIPT_PATHS.iter().any(|d| p.starts_with(d));
    let resolved = match base.resolve(path) {
        Some(_) => return false,
        None => {
            let (top, rest) = path.split_once('/').unwrap_or((path, ""));
            match base.nodes.get(top) {
                Some(Node::Symlink(t)) => format!("{}/{rest}", t.trim_matches('/')),
                _ => path.to_string(),
            }
        }
    };
    seen(path) || seen(&resolved)
}

fn reviewed(pkg: &str, effect: &str, base: &BaseFs, files: &BTreeMap<String, Entry>) -> bool {
    REVIEWED.iter().any(|r| {
        r.package == pkg
            && r.effect == effect
            && !r.voided_by.iter().any(|(prefix, suffix)| {
                let hit = |k: &String| k.starts_with(prefix) && k.ends_with(suffix);
                files.keys().any(hit) || base.nodes.keys().any(hit)
            })
    })
}

fn dir(path: &str) -> Entry {
    Entry {
        path: path.trim_start_matches('/').to_string(),
        kind: Kind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
    }
}

fn file(path: &str, content: Content) -> Entry {
    Entry {
        path: path.trim_start_matches('/').to_string(),
        kind: Kind::File(content),
        mode: 0o644,
        uid: 0,
        gid: 0,
    }
}

/// The effects of `pkgs` over `base` plus the layer's `files`.
pub fn configure(pkgs: &[Scripts], base: &BaseFs, files: &BTreeMap<String, Entry>) -> Outcome {
    let mut out = Outcome::default();
    let mut made: BTreeMap<String, Entry> = BTreeMap::new();
    for s in pkgs {
        let mut undone = Vec::new();
        let mut effects: Vec<(Effect, bool)> = Vec::new();
        for (script, action, before_unpack) in [
            (s.preinst, "install", true),
            (s.postinst, "configure", false),
        ] {
            let found = script.map(|t| maintscripts::script_effects(t, action));
            effects.extend(found.into_iter().flatten().map(|e| (e, before_unpack)));
        }
        let triggers = s.triggers.map(maintscripts::unreproduced_triggers);
        effects.extend(
            triggers
                .into_iter()
                .flatten()
                .map(|t| (Effect::Other(t), false)),
        );
        if let Some(conf) = s.paths.iter().find(|p| p.starts_with("etc/ld.so.conf.d/")) {
            effects.push((Effect::Other(format!("ldconfig (/{conf})")), false));
        }
        // Interests of the base's packages: their trigger runs their script.
        for (path, pkg) in base_file_triggers(base, &s.paths) {
            effects.push((Effect::Other(format!("trigger {path} ({pkg})")), false));
            if !out.activated.contains(&(pkg.clone(), path.clone())) {
                out.activated.push((pkg, path));
            }
        }
        for (effect, before_unpack) in effects {
            let done = match &effect {
                Effect::MakeDir(paths) => {
                    for p in paths.iter().filter(|p| !exists(base, files, p)) {
                        made.insert(p.trim_start_matches('/').to_string(), dir(p));
                    }
                    true
                }
                Effect::Touch(paths) => {
                    for p in paths.iter().filter(|p| !exists(base, files, p)) {
                        let e = file(p, Content::Bytes(Vec::new().into()));
                        made.insert(e.path.clone(), e);
                    }
                    true
                }
                // Before the unpack only the base counts; after it, the layer too.
                Effect::Remove(paths) => paths.iter().all(|p| {
                    let k = p.trim_start_matches('/');
                    base_lacks(base, p)
                        && (before_unpack || !(files.contains_key(k) || made.contains_key(k)))
                }),
                Effect::Other(_) => false,
            };
            let name = effect.name();
            if !done && !reviewed(s.package, &name, base, files) && !undone.contains(&name) {
                undone.push(name);
            }
        }
        if !undone.is_empty() {
            out.unreproduced.push((s.package.to_string(), undone));
        }
    }
    out.entries.extend(made.into_values());
    out.entries.extend(made_files(pkgs, base, files));
    out
}

/// The [`scripts::MADE`] entries of the packages in the layer, where the image lacks them.
fn made_files(pkgs: &[Scripts], base: &BaseFs, files: &BTreeMap<String, Entry>) -> Vec<Entry> {
    let mut out = Vec::new();
    for (pkg, path, from) in scripts::MADE {
        if !pkgs.iter().any(|s| s.package == pkg) || exists(base, files, path) {
            continue;
        }
        match from {
            Made::Copy(src) => match files.get(src).map(|e| &e.kind) {
                Some(Kind::File(content)) => out.push(file(path, content.clone())),
                _ => continue,
            },
            Made::Bytes(b) => out.push(file(path, Content::Bytes(b.into()))),
            Made::Dir => out.push(dir(path)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scripts<'a>(package: &'a str, postinst: &'a str) -> Scripts<'a> {
        Scripts {
            package,
            preinst: None,
            postinst: Some(postinst),
            triggers: None,
            paths: Vec::new(),
        }
    }

    #[test]
    fn removals_count_only_what_exists_and_reviews_can_be_voided() {
        let mut base = BaseFs::default();
        let files = BTreeMap::new();
        let rm = "#!/bin/sh\nset -e\nrm -f /etc/old.conf\nmkdir -p /var/lib/x\n";
        let o = configure(&[scripts("a", rm)], &base, &files);
        assert!(o.unreproduced.is_empty(), "{:?}", o.unreproduced);
        assert_eq!(o.entries[0].path, "var/lib/x");
        base.apply_layer(vec![("etc/old.conf".into(), Node::File(None))]);
        let o = configure(&[scripts("a", rm)], &base, &files);
        assert_eq!(
            o.unreproduced,
            [("a".into(), vec!["rm /etc/old.conf".into()])]
        );
        let procps = "update-alternatives --install \"$P\"/\"$B\" \"$B\" \"$P\"/\"$B\".procps 50\n";
        let o = configure(&[scripts("procps", procps)], &base, &files);
        assert!(o.unreproduced.is_empty());
        base.apply_layer(vec![("usr/bin/w.procps".into(), Node::File(None))]);
        let o = configure(&[scripts("procps", procps)], &base, &files);
        assert_eq!(o.unreproduced.len(), 1);
        // Another package gets no review it was not given.
        let o = configure(&[scripts("other", procps)], &BaseFs::default(), &files);
        assert_eq!(o.unreproduced.len(), 1);
    }

    #[test]
    fn the_base_file_triggers_a_layer_activates() {
        let mut base = BaseFs::default();
        let file = "/usr/share/glib-2.0/schemas libglib2.0-0:amd64\n/usr/share/debianutils/shells.d debianutils/noawait\n";
        base.apply_layer(vec![(
            "var/lib/dpkg/triggers/File".into(),
            Node::File(Some(file.as_bytes().to_vec())),
        )]);
        let mut s = scripts("zsh", "#!/bin/sh\n");
        s.paths = vec!["usr/share/debianutils/shells.d/zsh", "usr/share/glib-2.0"];
        let o = configure(&[s], &base, &BTreeMap::new());
        assert_eq!(
            o.unreproduced[0].1,
            ["trigger /usr/share/debianutils/shells.d (debianutils)"]
        );
        assert_eq!(
            o.activated,
            [(
                "debianutils".to_string(),
                "/usr/share/debianutils/shells.d".to_string()
            )]
        );
    }

    #[test]
    fn ld_so_conf_entries_and_triggers() {
        let files = BTreeMap::new();
        let mut s = scripts("libx", "#!/bin/sh\nldconfig\n");
        s.triggers = Some("activate-noawait ldconfig\n");
        assert!(configure(&[s], &BaseFs::default(), &files)
            .unreproduced
            .is_empty());
        let mut s = scripts("libx", "#!/bin/sh\n");
        s.paths = vec!["etc/ld.so.conf.d", "etc/ld.so.conf.d/x.conf"];
        s.triggers = Some("interest-noawait /usr/share/man\n");
        let o = configure(&[s], &BaseFs::default(), &files);
        assert_eq!(
            o.unreproduced[0].1,
            [
                "trigger /usr/share/man",
                "ldconfig (/etc/ld.so.conf.d/x.conf)"
            ]
        );
    }
}

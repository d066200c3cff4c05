//! Pure: the maintainer-script effects the package layer applies without running any
//! script: `update-alternatives --install` (and its `--slave` links) written out
//! literally in a `postinst` (anything built from shell variables is not), and the
//! files of [`MADE`].

/// What a file a script makes is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    /// A copy of a file the package ships.
    Copy(&'static str),
    /// These bytes.
    Bytes(&'static [u8]),
    /// An empty directory.
    Dir,
}

/// Files and directories scripts make in shell the classifier cannot follow
/// (functions, variables), reproduced from data when the image lacks them:
/// (package, path made, from what). Each matches a reviewed effect in
/// [`super::configure::REVIEWED`].
pub const MADE: [(&str, &str, Made); 4] = [
    // R reads /etc/R/Renviron for its library paths; without it not even `utils` loads.
    (
        "r-base-core",
        "etc/R/Renviron",
        Made::Copy("usr/lib/R/etc/Renviron.ucf"),
    ),
    (
        "readline-common",
        "etc/inputrc",
        Made::Copy("usr/share/readline/inputrc"),
    ),
    (
        "python3",
        "etc/python3/debian_config",
        Made::Bytes(
            b"[DEFAULT]\n# how to byte-compile (comma separated: standard, optimize)\nbyte-compile = standard\n",
        ),
    ),
    (
        "python3.11-minimal",
        "usr/local/lib/python3.11/dist-packages",
        Made::Dir,
    ),
];

/// One alternative: `link` → `/etc/alternatives/<name>` → `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    pub link: String,
    pub name: String,
    pub path: String,
    pub priority: i64,
}

fn literal(w: &str) -> bool {
    !w.is_empty() && !w.contains(['$', '`', '"', '\'', '*'])
}

/// The literal `update-alternatives --install LINK NAME PATH PRIORITY [--slave LINK
/// NAME PATH]…` calls of a script (continuation lines joined). Slaves carry the
/// master's priority.
pub fn alternatives(script: &str) -> Vec<Alternative> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| *w == "--install") else {
            continue;
        };
        if !words[..at]
            .iter()
            .any(|w| w.ends_with("update-alternatives"))
        {
            continue;
        }
        let Some(m) = words.get(at + 1..at + 5) else {
            continue;
        };
        let Ok(priority) = m[3].parse::<i64>() else {
            continue;
        };
        if !m[..3].iter().all(|w| literal(w)) {
            continue;
        }
        out.push(Alternative {
            link: m[0].to_string(),
            name: m[1].to_string(),
            path: m[2].to_string(),
            priority,
        });
        let mut i = at + 5;
        while words.get(i) == Some(&"--slave") {
            match words.get(i + 1..i + 4) {
                Some(s) if s.iter().all(|w| literal(w)) => out.push(Alternative {
                    link: s[0].to_string(),
                    name: s[1].to_string(),
                    path: s[2].to_string(),
                    priority,
                }),
                _ => break,
            }
            i += 4;
        }
    }
    out
}

/// Per alternative name, the highest-priority choice (first on a tie), in name order.
pub fn choose(all: &[Alternative]) -> Vec<Alternative> {
    let mut best: std::collections::BTreeMap<&str, &Alternative> = Default::default();
    for a in all {
        match best.get(a.name.as_str()) {
            Some(b) if b.priority >= a.priority => {}
            _ => {
                best.insert(&a.name, a);
            }
        }
    }
    best.into_values().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_installs_with_slaves() {
        let script = "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n  update-alternatives --install /usr/bin/pager pager /bin/less 77 \\\n    --slave /usr/share/man/man1/pager.1.gz pager.1.gz /usr/share/man/man1/less.1.gz\n  update-alternatives --install /usr/bin/$x x $y 10\n  update-alternatives --remove foo /bin/foo\nfi\n";
        let a = alternatives(script);
        assert_eq!(a.len(), 2);
        assert_eq!(
            a[0],
            Alternative {
                link: "/usr/bin/pager".into(),
                name: "pager".into(),
                path: "/bin/less".into(),
                priority: 77
            }
        );
        assert_eq!(a[1].name, "pager.1.gz");
        assert_eq!(a[1].priority, 77);
    }

    #[test]
    fn highest_priority_wins() {
        let a = alternatives("update-alternatives --install /usr/bin/py py /usr/bin/py3.9 1\nupdate-alternatives --install /usr/bin/py py /usr/bin/py3.11 3\nupdate-alternatives --install /usr/bin/py py /usr/bin/py3.10 2\n");
        let c = choose(&a);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].path, "/usr/bin/py3.11");
    }
}

//! Pure: which packages to add so that the requested ones and everything they
//! `Depends`/`Pre-Depends` on are there. Greedy and deterministic, like apt's usual
//! outcome for a small install: a relation already met by the base or by an earlier
//! pick is kept; otherwise its first alternative that can be met wins, with the highest
//! version over all sources (then the earliest source), a real package before a
//! provider, providers in name order. `Recommends`, `Conflicts` and `Breaks` are not
//! considered (apt-get with `--no-install-recommends`, on a base that is consistent).

use std::collections::{BTreeMap, HashMap};

use thiserror::Error;

use super::packages::{clause_text, Alt, Clause, Package};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error("package '{name}' is not in the base's apt sources")]
    NotFound { name: String },
    #[error("cannot satisfy '{relation}', needed by {}", .chain.join(" -> "))]
    Unsatisfiable {
        relation: String,
        chain: Vec<String>,
    },
}

/// The packages available from the sources, indexed by name and by provided name.
pub struct Universe<'a> {
    pkgs: &'a [Package],
    by_name: HashMap<&'a str, Vec<usize>>,
    providers: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Universe<'a> {
    pub fn new(pkgs: &'a [Package]) -> Universe<'a> {
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut providers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, p) in pkgs.iter().enumerate() {
            by_name.entry(&p.name).or_default().push(i);
            for (n, _) in &p.provides {
                providers.entry(n).or_default().push(i);
            }
        }
        Universe {
            pkgs,
            by_name,
            providers,
        }
    }

    /// The best real package named like `alt` that meets its version.
    fn candidate(&self, alt: &Alt) -> Option<&'a Package> {
        let pkgs = self.pkgs;
        self.by_name
            .get(alt.name.as_str())?
            .iter()
            .map(|&i| &pkgs[i])
            .filter(|p| p.satisfies(alt))
            .max_by(|a, b| a.version.cmp(&b.version).then(b.source.cmp(&a.source)))
    }

    fn provider(&self, alt: &Alt) -> Option<&'a Package> {
        let pkgs = self.pkgs;
        self.providers
            .get(alt.name.as_str())?
            .iter()
            .map(|&i| &pkgs[i])
            .filter(|p| p.satisfies(alt))
            .min_by(|a, b| a.name.cmp(&b.name).then(b.version.cmp(&a.version)))
    }

    fn knows(&self, name: &str) -> bool {
        self.by_name.contains_key(name) || self.providers.contains_key(name)
    }
}

/// The packages to add for `wanted`, in name order; empty when the base has them all.
pub fn resolve(
    universe: &Universe,
    installed: &[Package],
    wanted: &[String],
) -> Result<Vec<Package>, ResolveError> {
    let mut picked: BTreeMap<String, Package> = BTreeMap::new();
    // Depth-first: the last pushed relation is handled next; chains name the path.
    let mut todo: Vec<(Clause, Vec<String>)> = wanted
        .iter()
        .rev()
        .map(|n| {
            let alt = Alt {
                name: n.clone(),
                constraint: None,
            };
            (vec![alt], Vec::new())
        })
        .collect();
    while let Some((clause, chain)) = todo.pop() {
        let met = |alt: &Alt| {
            picked.values().any(|p| p.satisfies(alt))
                || installed
                    .iter()
                    .any(|p| !picked.contains_key(&p.name) && p.satisfies(alt))
        };
        if clause.iter().any(met) {
            continue;
        }
        let choice = clause
            .iter()
            .find_map(|a| universe.candidate(a).or_else(|| universe.provider(a)));
        let Some(p) = choice else {
            if chain.is_empty() && !universe.knows(&clause[0].name) {
                return Err(ResolveError::NotFound {
                    name: clause[0].name.clone(),
                });
            }
            return Err(ResolveError::Unsatisfiable {
                relation: clause_text(&clause),
                chain: if chain.is_empty() {
                    vec!["the request".into()]
                } else {
                    chain
                },
            });
        };
        let mut next_chain = chain.clone();
        next_chain.push(p.name.clone());
        for dep in p.depends.iter().rev() {
            todo.push((dep.clone(), next_chain.clone()));
        }
        picked.insert(p.name.clone(), p.clone());
    }
    Ok(picked.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::super::{control, packages};
    use super::*;

    // Recorded from bookworm's main/binary-amd64/Packages (fields trimmed), plus a
    // newer python3.11 from a second source.
    const INDEX: &str = "\
Package: python3
Version: 3.11.2-1+b1
Architecture: amd64
Pre-Depends: python3-minimal (= 3.11.2-1+b1)
Depends: python3.11 (>= 3.11.2-1~), libpython3-stdlib (= 3.11.2-1+b1)
Provides: python3-profiler (= 3.11.2-1+b1)

Package: python3-minimal
Version: 3.11.2-1+b1
Architecture: amd64
Pre-Depends: python3.11-minimal (>= 3.11.2-1~)
Depends: dpkg (>= 1.13.20)

Package: python3.11
Version: 3.11.2-6
Architecture: amd64
Depends: python3.11-minimal (= 3.11.2-6), libpython3.11-stdlib (= 3.11.2-6), media-types | mime-support

Package: python3.11-minimal
Version: 3.11.2-6
Architecture: amd64
Depends: libpython3.11-minimal (= 3.11.2-6), libexpat1 (>= 2.1~beta3), zlib1g (>= 1:1.2.0)

Package: libpython3.11-minimal
Version: 3.11.2-6
Architecture: amd64
Depends: libc6 (>= 2.36)

Package: libpython3-stdlib
Version: 3.11.2-1+b1
Architecture: amd64
Depends: libpython3.11-stdlib (>= 3.11.2-1~)

Package: libpython3.11-stdlib
Version: 3.11.2-6
Architecture: amd64
Depends: libpython3.11-minimal (= 3.11.2-6), libc6 (>= 2.34)

Package: mailcap-like
Version: 1
Architecture: all
Provides: mime-support

Package: media-types
Version: 10.0.0
Architecture: all

Package: libexpat1
Version: 2.5.0-1
Architecture: amd64
Depends: libc6 (>= 2.25)

Package: zlib1g
Version: 1:1.2.13.dfsg-1
Architecture: amd64
Depends: libc6 (>= 2.14)

Package: libc6
Version: 2.36-9+deb12u4
Architecture: amd64

Package: needs-missing
Version: 1
Architecture: all
Depends: zlib1g (>= 1:9), not-anywhere | also-not

Package: virtual-only-user
Version: 1
Architecture: all
Depends: mime-support
";

    const NEWER: &str = "Package: media-types\nVersion: 10.1.0\nArchitecture: all\n";

    fn universe_pkgs() -> Vec<Package> {
        let mut p = packages::parse_index(INDEX, "amd64", 0).unwrap();
        p.extend(packages::parse_index(NEWER, "amd64", 1).unwrap());
        p
    }

    // A JVM-only base: libc6 and zlib1g installed (zlib1g at an older version), dpkg.
    const STATUS: &str = "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u4\n\nPackage: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\n\nPackage: dpkg\nStatus: install ok installed\nVersion: 1.21.22\n";

    fn names(p: &[Package]) -> Vec<String> {
        p.iter()
            .map(|p| format!("{}={}", p.name, p.version))
            .collect()
    }

    #[test]
    fn python3_on_a_jvm_only_base() {
        let pkgs = universe_pkgs();
        let u = Universe::new(&pkgs);
        let installed: Vec<Package> = control::parse(STATUS)
            .iter()
            .filter_map(|s| Package::from_stanza(s, usize::MAX).unwrap())
            .collect();
        let r = resolve(&u, &installed, &["python3".into()]).unwrap();
        assert_eq!(
            names(&r),
            [
                "libexpat1=2.5.0-1",
                "libpython3-stdlib=3.11.2-1+b1",
                "libpython3.11-minimal=3.11.2-6",
                "libpython3.11-stdlib=3.11.2-6",
                // The first alternative, at the highest version over both sources.
                "media-types=10.1.0",
                "python3=3.11.2-1+b1",
                "python3-minimal=3.11.2-1+b1",
                "python3.11=3.11.2-6",
                "python3.11-minimal=3.11.2-6",
            ]
        );
        // Already installed: nothing to add.
        let with_python = [installed.clone(), r.clone()].concat();
        assert!(resolve(&u, &with_python, &["python3".into()])
            .unwrap()
            .is_empty());
        // Provided by the chosen python3 itself.
        assert!(resolve(&u, &with_python, &["python3-profiler".into()])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn virtual_packages_and_refusals() {
        let pkgs = universe_pkgs();
        let u = Universe::new(&pkgs);
        let r = resolve(&u, &[], &["virtual-only-user".into()]).unwrap();
        assert_eq!(names(&r), ["mailcap-like=1", "virtual-only-user=1"]);
        assert_eq!(
            resolve(&u, &[], &["no-such-package".into()]),
            Err(ResolveError::NotFound {
                name: "no-such-package".into()
            })
        );
        let e = resolve(&u, &[], &["needs-missing".into()]).unwrap_err();
        assert_eq!(
            e,
            ResolveError::Unsatisfiable {
                relation: "zlib1g (>= 1:9)".into(),
                chain: vec!["needs-missing".into()],
            }
        );
        assert!(e.to_string().contains("needed by needs-missing"));
    }
}

//! Pure: `Packages` indexes (and dpkg status entries) as resolvable records, and the
//! relation grammar of `Depends`/`Pre-Depends`/`Provides`.

use super::control::Stanza;
use super::version::{Constraint, Version};

/// One alternative of a relation: `name[:arch] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alt {
    pub name: String,
    pub constraint: Option<Constraint>,
}

impl std::fmt::Display for Alt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.constraint {
            Some(c) => write!(f, "{} ({c})", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

/// `a | b (>= 1)`: satisfied by any alternative.
pub type Clause = Vec<Alt>;

pub fn clause_text(c: &Clause) -> String {
    c.iter().map(Alt::to_string).collect::<Vec<_>>().join(" | ")
}

/// Parses a relation field: clauses separated by `,`, alternatives by `|`. The
/// architecture qualifier (`:any`, `:native`, `:amd64`) is dropped: an index holds one
/// architecture plus `all`, so the name alone picks the package; build-profile and
/// architecture restrictions (`<…>`, `[…]`) only occur in source packages.
pub fn parse_relations(field: &str) -> Result<Vec<Clause>, String> {
    let mut out = Vec::new();
    for clause in field.split(',') {
        let clause = clause.trim();
        if clause.is_empty() {
            continue;
        }
        let mut alts = Vec::new();
        for alt in clause.split('|') {
            let (name, constraint) = match alt.split_once('(') {
                Some((n, rest)) => {
                    let inner = rest.split(')').next().unwrap_or("");
                    (n.trim(), Some(Constraint::parse(inner)?))
                }
                None => (alt.split(['[', '<']).next().unwrap_or("").trim(), None),
            };
            let name = name.split(':').next().unwrap_or("").trim();
            if name.is_empty() {
                return Err(format!("empty package name in '{clause}'"));
            }
            alts.push(Alt {
                name: name.to_string(),
                constraint,
            });
        }
        out.push(alts);
    }
    Ok(out)
}

/// What the resolver needs of a binary package; `Filename`/`SHA256`/`Size` are empty
/// for installed packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: Version,
    pub arch: String,
    /// `Pre-Depends` then `Depends`.
    pub depends: Vec<Clause>,
    /// Virtual names with the version they provide, if any (`Provides: a (= 1)`).
    pub provides: Vec<(String, Option<Version>)>,
    pub filename: String,
    pub sha256: String,
    pub size: u64,
    /// Which source (index into the resolver's list of sources) it came from.
    pub source: usize,
    /// The `Source` field (the source package, when it differs from `name`).
    pub source_package: Option<String>,
}

impl Package {
    /// A record from a `Packages` or status stanza; `None` when it lacks a name or a
    /// parsable version (such stanzas are skipped, as apt skips them).
    pub fn from_stanza(st: &Stanza, source: usize) -> Result<Option<Package>, String> {
        let (Some(name), Some(version)) = (st.get("Package"), st.get("Version")) else {
            return Ok(None);
        };
        let Ok(version) = version.parse::<Version>() else {
            return Ok(None);
        };
        let mut depends = Vec::new();
        for field in ["Pre-Depends", "Depends"] {
            if let Some(v) = st.get(field) {
                depends.extend(parse_relations(v).map_err(|e| format!("{name}: {e}"))?);
            }
        }
        let provides = match st.get("Provides") {
            Some(p) => parse_relations(p)
                .map_err(|e| format!("{name}: {e}"))?
                .into_iter()
                .filter_map(|c| c.into_iter().next())
                .map(|a| (a.name, a.constraint.map(|c| c.version)))
                .collect(),
            None => Vec::new(),
        };
        Ok(Some(Package {
            name: name.to_string(),
            version,
            arch: st.get("Architecture").unwrap_or("").to_string(),
            depends,
            provides,
            filename: st.get("Filename").unwrap_or("").to_string(),
            sha256: st.get("SHA256").unwrap_or("").to_ascii_lowercase(),
            size: st.get("Size").and_then(|s| s.parse().ok()).unwrap_or(0),
            source,
            source_package: st.get("Source").map(String::from),
        }))
    }

    /// Whether this package, as `name` itself or through `Provides`, satisfies `alt`.
    /// A versioned relation is only satisfied by a versioned `Provides`, as in dpkg.
    pub fn satisfies(&self, alt: &Alt) -> bool {
        if self.name == alt.name
            && alt
                .constraint
                .as_ref()
                .is_none_or(|c| c.allows(&self.version))
        {
            return true;
        }
        self.provides.iter().any(|(n, v)| {
            n == &alt.name
                && match (&alt.constraint, v) {
                    (None, _) => true,
                    (Some(c), Some(v)) => c.allows(v),
                    (Some(_), None) => false,
                }
        })
    }
}

/// Every package of a `Packages` index for `arch` (or `all`).
pub fn parse_index(text: &str, arch: &str, source: usize) -> Result<Vec<Package>, String> {
    let mut out = Vec::new();
    // Stanza by stanza, so a 50 MB index is never held as parsed fields all at once.
    for chunk in text.split("\n\n") {
        for st in super::control::parse(chunk) {
            let a = st.get("Architecture").unwrap_or("");
            if a != arch && a != "all" {
                continue;
            }
            if let Some(p) = Package::from_stanza(&st, source)? {
                out.push(p);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_grammar() {
        let r = parse_relations(
            "python3.11 (>= 3.11.2-1~), libpython3-stdlib (= 3.11.2-1+b1) | foo:any, bar:amd64 [amd64] <!nocheck>, libc6 (<< 2.37) [amd64],",
        )
        .unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r[3][0].constraint.as_ref().unwrap().to_string(), "<< 2.37");
        assert_eq!(r[0][0].name, "python3.11");
        assert_eq!(
            r[0][0].constraint.as_ref().unwrap().to_string(),
            ">= 3.11.2-1~"
        );
        assert_eq!(r[1].len(), 2);
        assert_eq!(r[1][1].name, "foo");
        assert_eq!(
            clause_text(&r[1]),
            "libpython3-stdlib (= 3.11.2-1+b1) | foo"
        );
        assert_eq!(r[2][0].name, "bar");
        assert!(parse_relations("a (~ 1)").is_err());
        assert!(parse_relations(" | b").is_err());
    }

    #[test]
    fn index_records_and_provides() {
        let text = "Package: python3\nVersion: 3.11.2-1+b1\nArchitecture: amd64\nPre-Depends: p\nDepends: python3.11 (>= 3.11.2-1~)\nProvides: python3-profiler (= 3.11.2-1+b1), python3-supported-min\nFilename: pool/main/p/python3/python3_3.11.2-1+b1_amd64.deb\nSize: 26300\nSHA256: ABC\n\nPackage: other-arch\nVersion: 1\nArchitecture: arm64\n\nPackage: noversion\nArchitecture: all\n\nPackage: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n";
        let p = parse_index(text, "amd64", 3).unwrap();
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["python3", "tzdata"]);
        let py = &p[0];
        assert_eq!(py.depends.len(), 2);
        assert_eq!(py.depends[0][0].name, "p");
        assert_eq!((py.sha256.as_str(), py.size, py.source), ("abc", 26300, 3));
        let alt = |s: &str| parse_relations(s).unwrap().remove(0).remove(0);
        assert!(py.satisfies(&alt("python3 (>= 3.11)")));
        assert!(!py.satisfies(&alt("python3 (>= 3.12)")));
        assert!(py.satisfies(&alt("python3-profiler (= 3.11.2-1+b1)")));
        assert!(py.satisfies(&alt("python3-supported-min")));
        // An unversioned Provides never satisfies a versioned relation.
        assert!(!py.satisfies(&alt("python3-supported-min (>= 1)")));
    }
}

//! Pure: Spark's `--packages` / `--exclude-packages` grammar and Ivy's glob patterns.
//!
//! Spark (`MavenUtils.extractMavenCoordinates`) splits the list on `,`, reads `/` as
//! `:`, splits on `:` the way Java's `String.split` does (trailing empty fields
//! dropped) and wants exactly three non-blank fields; no classifier is accepted. An
//! exclusion is `G:A`, checked by the same function on `G:A:*`.

use std::fmt;

use super::MavenError;

/// `group:artifact`, the unit Ivy's conflict manager and exclusions work on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleId {
    pub group: String,
    pub artifact: String,
}

impl ModuleId {
    pub fn new(group: &str, artifact: &str) -> ModuleId {
        ModuleId {
            group: group.to_string(),
            artifact: artifact.to_string(),
        }
    }
}

impl fmt::Display for ModuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.group, self.artifact)
    }
}

/// `group:artifact:version`; the version may be a range (`[1.0,2.0)`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Coordinate {
    pub module: ModuleId,
    pub version: String,
}

impl Coordinate {
    pub fn new(group: &str, artifact: &str, version: &str) -> Coordinate {
        Coordinate {
            module: ModuleId::new(group, artifact),
            version: version.to_string(),
        }
    }
}

impl fmt::Display for Coordinate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.module, self.version)
    }
}

/// Java's `String.split(regex)` for a one-character separator: trailing empty fields
/// are dropped (so Spark takes `g:a:v:` and `a:b:c,`), leading ones kept.
fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

fn one(p: &str) -> Result<Coordinate, MavenError> {
    let bad = |reason: String| MavenError::Coordinate {
        given: p.to_string(),
        reason,
    };
    let spaced = p.replace('/', ":");
    let fields = java_split(&spaced, ':');
    if fields.len() != 3 {
        return Err(bad(
            "must be in the form groupId:artifactId:version".to_string()
        ));
    }
    for (field, name) in fields.iter().zip(["groupId", "artifactId", "version"]) {
        if field.trim().is_empty() {
            return Err(bad(format!("the {name} cannot be empty or whitespace")));
        }
    }
    Ok(Coordinate::new(
        fields[0].trim(),
        fields[1].trim(),
        fields[2].trim(),
    ))
}

/// `--packages` (`spark.jars.packages`): `G:A:V[,G:A:V…]`, `G/A:V` also accepted.
pub fn parse_packages(list: &str) -> Result<Vec<Coordinate>, MavenError> {
    java_split(list, ',').into_iter().map(one).collect()
}

/// `--exclude-packages` (`spark.jars.excludes`): `G:A[,G:A…]`, globs allowed as in
/// Spark (Ivy's glob matcher).
pub fn parse_excludes(list: &str) -> Result<Vec<Pattern>, MavenError> {
    if list.trim().is_empty() {
        return Ok(Vec::new());
    }
    java_split(list, ',')
        .into_iter()
        .map(|e| {
            one(&format!("{e}:*"))
                .map(|c| Pattern::new(&c.module.group, &c.module.artifact))
                .map_err(|_| MavenError::Coordinate {
                    given: e.to_string(),
                    reason: "an exclusion must be in the form groupId:artifactId".to_string(),
                })
        })
        .collect()
}

/// A `group:artifact` glob (`*` any run, `?` one character), as Ivy's glob matcher
/// reads Spark's exclusion rules and Maven's `<exclusion>` wildcards.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pattern {
    pub group: String,
    pub artifact: String,
}

impl Pattern {
    pub fn new(group: &str, artifact: &str) -> Pattern {
        Pattern {
            group: group.to_string(),
            artifact: artifact.to_string(),
        }
    }

    pub fn matches(&self, m: &ModuleId) -> bool {
        glob(self.group.as_bytes(), m.group.as_bytes())
            && glob(self.artifact.as_bytes(), m.artifact.as_bytes())
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.group, self.artifact)
    }
}

/// `*` and `?` only: the two wildcards Maven exclusions and Spark's rules use. Written
/// by hand: a dozen lines against a crate (globset) built for paths, not names.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

/// The rules Spark adds to every resolution (`MavenUtils.addExclusionRules`): Scala's
/// library and Spark's own modules, which the distribution already has.
pub fn spark_excludes() -> Vec<Pattern> {
    const SPARK_MODULES: &[&str] = &[
        "catalyst_",
        "core_",
        "graphx_",
        "kvstore_",
        "launcher_",
        "mllib_",
        "mllib-local_",
        "network-common_",
        "network-shuffle_",
        "repl_",
        "sketch_",
        "sql_",
        "streaming_",
        "tags_",
        "unsafe_",
    ];
    let mut rules = vec![Pattern::new("*", "scala-library")];
    rules.extend(
        SPARK_MODULES
            .iter()
            .map(|m| Pattern::new("org.apache.spark", &format!("spark-{m}*"))),
    );
    rules
}

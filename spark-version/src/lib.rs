//! The Spark version: one grammar, one ordering, one `Display`, and the support bounds,
//! for every crate of the workspace.
//!
//! ```text
//! version = number "." number [ "." number ] [ "-" suffix ]
//! number  = "0" | [1-9][0-9]*                  (fits a u32)
//! suffix  = [A-Za-z0-9] [A-Za-z0-9._-]*         (SNAPSHOT, preview1, rc2, amzn-0, …)
//! ```
//!
//! A release names all three numbers; `MAJOR.MINOR` (a release line, read as `.0`) is
//! accepted only where the caller asks for it ([`Patch::Optional`]). Each caller refuses
//! what it cannot serve in its own words: `sparkimg fetch` needs a release for a file
//! name, the entrypoint knows 2.3 … 4.x, `sparkimg build` makes Kubernetes images
//! ([`SparkVersion::check_kubernetes`]) on a Java its line supports
//! ([`SparkVersion::java_support`], the table in [`java`]).
//!
//! This crate is linked into the static `spark-entrypoint`: it depends on `thiserror` only
//! and does no I/O.

pub mod java;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The oldest Spark line with a Kubernetes backend (Spark on Kubernetes starts at 2.3.0).
pub const KUBERNETES_MIN: (u32, u32) = (2, 3);

/// The newest major line whose container contract (`entrypoint.sh`) is known.
pub const NEWEST_KNOWN_MAJOR: u32 = 4;

/// A Spark version such as `3.5.3`, `3.0.0-SNAPSHOT` or `4.0.0-preview1`.
///
/// Ordered by the numbers, then a pre-release before its release; two suffixes compare
/// digit runs as numbers (`preview2` < `preview10`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SparkVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// The suffix after `-`, verbatim: it is part of download file names.
    pub pre: Option<String>,
}

/// Whether [`SparkVersion::parse`] accepts `MAJOR.MINOR` (read as `MAJOR.MINOR.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patch {
    /// A release: all three numbers (what `FromStr` parses).
    Required,
    /// A release or a release line, as people write `SPARK_VERSION=3.5`.
    Optional,
}

/// Why a text is not a version the caller can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("'{0}' is not a Spark version (expected MAJOR.MINOR.PATCH[-SUFFIX], e.g. 3.5.3)")]
    Malformed(String),
    #[error("'{0}' names a release line, not a release (expected MAJOR.MINOR.PATCH, e.g. {0}.0)")]
    NoPatch(String),
    #[error("Spark {0}: Kubernetes images exist from Spark 2.3 on")]
    BeforeKubernetes(SparkVersion),
}

impl SparkVersion {
    /// A release without suffix.
    pub const fn new(major: u32, minor: u32, patch: u32) -> SparkVersion {
        SparkVersion {
            major,
            minor,
            patch,
            pre: None,
        }
    }

    /// Parses `text` by the grammar of this crate; nothing is trimmed.
    pub fn parse(text: &str, patch: Patch) -> Result<SparkVersion, VersionError> {
        let malformed = || VersionError::Malformed(text.to_string());
        let (numbers, pre) = match text.split_once('-') {
            Some((numbers, pre)) if is_suffix(pre) => (numbers, Some(pre.to_string())),
            Some(_) => return Err(malformed()),
            None => (text, None),
        };
        let mut parts = numbers.split('.');
        let mut next = || parts.next().map(|p| number(p).ok_or_else(malformed));
        let major = next().ok_or_else(malformed)??;
        let minor = next().ok_or_else(malformed)??;
        let patch_number = next().transpose()?;
        if next().is_some() {
            return Err(malformed());
        }
        let patch_number = match (patch_number, patch) {
            (Some(p), _) => p,
            (None, Patch::Optional) => 0,
            (None, Patch::Required) => return Err(VersionError::NoPatch(text.to_string())),
        };
        Ok(SparkVersion {
            major,
            minor,
            patch: patch_number,
            pre,
        })
    }

    /// The version named in a distribution's `RELEASE` file (`Spark 3.5.3 built for Hadoop 3.3.4`).
    pub fn from_release_file(text: &str) -> Option<SparkVersion> {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("Spark "))?;
        let word = line.split_whitespace().nth(1)?;
        SparkVersion::parse(word, Patch::Optional).ok()
    }

    /// The version in a `spark-core_<scala>-<version>.jar` file name.
    pub fn from_core_jar_name(name: &str) -> Option<SparkVersion> {
        let rest = name.strip_prefix("spark-core_")?.strip_suffix(".jar")?;
        let (_scala, version) = rest.split_once('-')?;
        SparkVersion::parse(version, Patch::Optional).ok()
    }

    /// The release line, `(major, minor)`.
    pub fn line(&self) -> (u32, u32) {
        (self.major, self.minor)
    }

    /// `self >= major.minor.patch`, where a pre-release (`3.0.0-SNAPSHOT`) is older than its release.
    pub fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        *self >= SparkVersion::new(major, minor, patch)
    }

    /// Spark on Kubernetes exists for this line (2.3 on, its pre-releases included).
    pub fn has_kubernetes(&self) -> bool {
        self.line() >= KUBERNETES_MIN
    }

    /// Refuses a version older than Spark on Kubernetes, for callers that make
    /// Kubernetes images.
    pub fn check_kubernetes(&self) -> Result<(), VersionError> {
        if self.has_kubernetes() {
            Ok(())
        } else {
            Err(VersionError::BeforeKubernetes(self.clone()))
        }
    }

    /// The major line's container contract is known (at most [`NEWEST_KNOWN_MAJOR`]).
    pub fn is_known(&self) -> bool {
        self.major <= NEWEST_KNOWN_MAJOR
    }
}

/// One number: decimal digits without a leading zero, within u32.
fn number(text: &str) -> Option<u32> {
    let canonical = text == "0" || (!text.starts_with('0') && !text.is_empty());
    if !canonical || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The suffix alphabet keeps file names and URLs built from a version safe (no `/`).
fn is_suffix(text: &str) -> bool {
    text.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Compares two suffixes with digit runs as numbers; equal runs fall back to the bytes,
/// so that `Ordering::Equal` means equal text (consistent with `Eq`).
fn compare_suffixes(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    while let (Some(&cx), Some(&cy)) = (x.first(), y.first()) {
        let ordering = if cx.is_ascii_digit() && cy.is_ascii_digit() {
            let (nx, rx) = split_digits(x);
            let (ny, ry) = split_digits(y);
            (x, y) = (rx, ry);
            let (nx, ny) = (trim_zeros(nx), trim_zeros(ny));
            nx.len().cmp(&ny.len()).then_with(|| nx.cmp(ny))
        } else {
            (x, y) = (&x[1..], &y[1..]);
            cx.cmp(&cy)
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    x.len().cmp(&y.len()).then_with(|| a.cmp(b))
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b'0').unwrap_or(s.len());
    &s[start..]
}

impl Ord for SparkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => compare_suffixes(a, b),
            })
    }
}

impl PartialOrd for SparkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A release: `MAJOR.MINOR.PATCH[-SUFFIX]`.
impl FromStr for SparkVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SparkVersion::parse(s, Patch::Required)
    }
}

impl fmt::Display for SparkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(pre) = &self.pre {
            write!(f, "-{pre}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

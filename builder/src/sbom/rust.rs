//! Pure: the crates a Rust binary was built from, read back from the `.dep-v0` section
//! cargo-auditable defines (zlib-compressed JSON `{"packages":[{name, version, source,
//! kind, dependencies, root}]}`); `spark-entrypoint`'s `build.rs` writes it. The binary
//! becomes one package (named by the root crate) containing a `pkg:cargo` package per
//! crate linked into it (`kind` runtime; build-time crates are not in the file).

use std::io::Read;

use object::{Object, ObjectSection};
use serde::Deserialize;

use super::{Kind, Package};

pub const SECTION: &str = ".dep-v0";
/// cargo-auditable's advice against zip bombs: real crate lists are far smaller.
pub const MAX_JSON: u64 = 8 << 20;

/// One entry of the section's `packages`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Crate {
    pub name: String,
    pub version: String,
    /// `crates.io`, `local`, `git`, `registry`.
    pub source: String,
    /// `runtime` (also when absent) or `build`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub root: bool,
}

impl Crate {
    pub fn runtime(&self) -> bool {
        self.kind.as_deref().is_none_or(|k| k == "runtime")
    }

    /// `pkg:cargo/NAME@VERSION` (crate names and semver need no escaping beyond
    /// `+` in build metadata).
    pub fn purl(&self) -> String {
        format!(
            "pkg:cargo/{}@{}",
            super::encode_segment(&self.name),
            super::encode_segment(&self.version)
        )
    }
}

#[derive(Deserialize)]
struct Audit {
    packages: Vec<Crate>,
}

/// The crate list of an executable: `Ok(None)` when it is no object file or has no
/// `.dep-v0` section (built without one), an error when the section is unreadable.
pub fn crates(binary: &[u8]) -> Result<Option<Vec<Crate>>, String> {
    let Ok(file) = object::File::parse(binary) else {
        return Ok(None);
    };
    let Some(section) = file.section_by_name(SECTION) else {
        return Ok(None);
    };
    let compressed = section
        .data()
        .map_err(|e| format!("{SECTION} section: {e}"))?;
    decode(compressed).map(Some)
}

/// The section's contents: zlib, then JSON (at most [`MAX_JSON`] bytes of it).
pub fn decode(compressed: &[u8]) -> Result<Vec<Crate>, String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| format!("{SECTION} section: not zlib data: {e}"))?;
    if json.len() as u64 > MAX_JSON {
        return Err(format!("{SECTION} section: over {MAX_JSON} bytes of JSON"));
    }
    let audit: Audit =
        serde_json::from_slice(&json).map_err(|e| format!("{SECTION} section: {e}"))?;
    Ok(audit.packages)
}

/// The package of an executable at `path` in the image: named after the root crate of
/// its crate list, containing its runtime crates; `fallback` (name, version) when the
/// binary carries no list.
pub fn binary_package(path: &str, crates: Option<&[Crate]>, fallback: (&str, &str)) -> Package {
    let root = crates.and_then(|c| c.iter().find(|c| c.root));
    let (name, version) = root.map_or(fallback, |r| (r.name.as_str(), r.version.as_str()));
    let purl = format!(
        "pkg:generic/{}@{}",
        super::encode_segment(name),
        super::encode_segment(version)
    );
    let mut p = Package::new(Kind::Entrypoint, name, version, purl);
    p.path = Some(path.to_string());
    match crates {
        None => {
            p.comment = Some(format!(
                "the binary has no {SECTION} section: its crates are not listed"
            ))
        }
        Some(list) => {
            p.contains = list
                .iter()
                .filter(|c| c.runtime() && !c.root)
                .map(|c| {
                    let mut q = Package::new(Kind::Crate, &c.name, &c.version, c.purl());
                    q.comment = Some(format!("crate from {}, linked into {name}", c.source));
                    q
                })
                .collect();
        }
    }
    p
}

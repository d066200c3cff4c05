//! Software bills of materials: what sparkimg put into an image, as SPDX 2.3 and
//! CycloneDX 1.5 JSON.
//!
//! Pure: the [`Inventory`] model, [`osdb`] (dpkg status, apk installed db, os-release),
//! [`jar`]'s pom.properties and file-name rules, [`rust`] (the crates embedded in the
//! entrypoint binary), and the writers [`spdx`] and
//! [`cyclonedx`] (canonical JSON: sorted keys and arrays, names derived from the image
//! digest, time from SOURCE_DATE_EPOCH, so equal inputs give equal bytes), and
//! [`read`], which reads those documents back into packages. Effects:
//! [`jar::scan`] (one read per jar: hashes, zip central directory, pom.properties).

pub mod cyclonedx;
pub mod jar;
pub mod osdb;
pub mod read;
pub mod rust;
pub mod spdx;

use crate::digest::{Sha1, Sha256};

/// `--sbom`: which documents a build attaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Formats {
    pub spdx: bool,
    pub cyclonedx: bool,
}

impl Formats {
    /// Pure: parse `spdx|cyclonedx|both|none`.
    pub fn parse(s: &str) -> Option<Formats> {
        let (spdx, cyclonedx) = match s {
            "spdx" => (true, false),
            "cyclonedx" => (false, true),
            "both" => (true, true),
            "none" => (false, false),
            _ => return None,
        };
        Some(Formats { spdx, cyclonedx })
    }

    pub fn any(self) -> bool {
        self.spdx || self.cyclonedx
    }
}

/// A document format, with its OCI artifact type and file suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    Spdx,
    CycloneDx,
}

impl Format {
    pub fn artifact_type(self) -> &'static str {
        match self {
            Format::Spdx => "application/spdx+json",
            Format::CycloneDx => "application/vnd.cyclonedx+json",
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            Format::Spdx => "spdx.json",
            Format::CycloneDx => "cdx.json",
        }
    }

    pub fn from_artifact_type(t: &str) -> Option<Format> {
        [Format::Spdx, Format::CycloneDx]
            .into_iter()
            .find(|f| f.artifact_type() == t)
    }
}

/// How a package got into the image; decides SPDX purpose and CycloneDX type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The Spark distribution.
    Spark,
    /// A jar (Maven coordinates, or a file name).
    Jar,
    /// A Python package (`pkg:pypi`).
    Python,
    /// A package of the base's package database.
    Os,
    /// The `spark-entrypoint` binary.
    Entrypoint,
    /// A Rust crate linked into the entrypoint (`pkg:cargo`, from its `.dep-v0`).
    Crate,
    /// The base image.
    Base,
}

/// One package of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub kind: Kind,
    /// Maven groupId, when known.
    pub group: Option<String>,
    pub name: String,
    pub version: String,
    pub purl: String,
    /// Where it is in the image (`/opt/spark/jars/x.jar`).
    pub path: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub sha512: Option<String>,
    pub download: Option<String>,
    /// Said once in both formats (e.g. "coordinates from the file name").
    pub comment: Option<String>,
    /// Packages shaded into this one (a jar with several pom.properties).
    pub contains: Vec<Package>,
}

impl Package {
    pub fn new(kind: Kind, name: &str, version: &str, purl: String) -> Package {
        Package {
            kind,
            group: None,
            name: name.to_string(),
            version: version.to_string(),
            purl,
            path: None,
            sha1: None,
            sha256: None,
            sha512: None,
            download: None,
            comment: None,
            contains: Vec::new(),
        }
    }

    /// A stable identifier: the same package at the same path always gets the same one
    /// (SPDX IDs allow letters, digits, `.` and `-` only).
    pub fn id(&self, parent: Option<&str>) -> String {
        let key = format!(
            "{}\0{}\0{}",
            parent.unwrap_or(""),
            self.purl,
            self.path.as_deref().unwrap_or("")
        );
        format!(
            "SPDXRef-Package-{}",
            &hex::encode(Sha256::digest(key))[..20]
        )
    }

    /// Whether the base brought it (the base itself, its OS packages and jars): what a
    /// rebase replaces with the new base's.
    pub fn from_base(&self) -> bool {
        matches!(self.kind, Kind::Base | Kind::Os)
            || self
                .comment
                .as_deref()
                .is_some_and(|c| c.starts_with(jar::IN_BASE))
    }

    fn sort_key(&self) -> (String, String) {
        (self.purl.clone(), self.path.clone().unwrap_or_default())
    }
}

/// Everything one image (one platform) holds, ready for a writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The image's reference (`quay.io/x/spark:3.5.3`).
    pub reference: String,
    /// The platform's manifest digest (`sha256:…`): names the document.
    pub digest: String,
    /// `os/arch[/variant]`.
    pub platform: String,
    /// SOURCE_DATE_EPOCH.
    pub created: u64,
    pub packages: Vec<Package>,
    /// What could not be listed, and why (a base without a package database).
    pub notes: Vec<String>,
}

impl Inventory {
    /// Sorts packages (and contained ones) and notes, so output does not depend on the
    /// order things were found in.
    pub fn sorted(mut self) -> Inventory {
        fn sort(v: &mut Vec<Package>) {
            v.iter_mut().for_each(|p| sort(&mut p.contains));
            v.sort_by_key(Package::sort_key);
            v.dedup();
        }
        sort(&mut self.packages);
        self.notes.sort();
        self.notes.dedup();
        self
    }

    /// The image itself as a `pkg:oci` purl.
    pub fn image_purl(&self) -> String {
        let (repo, _) = split_reference(&self.reference);
        let name = repo.rsplit('/').next().unwrap_or(repo);
        format!(
            "pkg:oci/{}@{}?repository_url={}",
            encode(name),
            encode(&self.digest),
            encode(repo)
        )
    }

    pub fn tool() -> String {
        format!("sparkimg-{}", env!("CARGO_PKG_VERSION"))
    }
}

/// `registry/repo:tag` → (`registry/repo`, `tag`); a digest reference keeps its digest.
fn split_reference(r: &str) -> (&str, &str) {
    use crate::oci::reference::{split_tag, without_digest};
    let (repo, tag) = split_tag(without_digest(r));
    (repo, tag.unwrap_or(""))
}

/// Percent-encodes a purl component: everything but unreserved characters (so deb
/// epochs `1:2.3` and `+` survive every purl parser).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a purl name or version, where `/` separates segments and must go too.
pub fn encode_segment(s: &str) -> String {
    encode(s).replace('/', "%2F")
}

/// A UUID for `digest` (version 5 over a fixed namespace), so the same image always gets
/// the same CycloneDX serial number. Hand-written: a `uuid` crate for 10 lines is not
/// worth a dependency.
pub fn uuid_for(digest: &str) -> String {
    // The RFC 4122 URL namespace; the name is what the UUID stands for.
    const NS_URL: [u8; 16] = [
        0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30,
        0xc8,
    ];
    let mut h = Sha1::new();
    h.update(NS_URL);
    h.update(format!("sparkimg:sbom:{digest}"));
    let mut b = [0u8; 20];
    b.copy_from_slice(h.finalize().as_ref());
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(&b[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// The Spark distribution's package. `file` is the tarball's name
/// (`spark-3.5.3-bin-hadoop3-scala2.13.tgz`), whose tail is the Hadoop/Scala flavour.
pub fn spark_package(
    version: &str,
    file: Option<&str>,
    download: &str,
    sha512: Option<&str>,
) -> Package {
    let mut p = Package::new(
        Kind::Spark,
        "apache-spark",
        version,
        format!("pkg:generic/apache-spark@{}", encode_segment(version)),
    );
    p.path = Some("/opt/spark".into());
    p.sha512 = sha512.map(str::to_string);
    p.download = Some(download.to_string());
    p.comment = file.and_then(|f| {
        let stem = f.trim_end_matches(".tgz").trim_end_matches(".tar.gz");
        let flavour = stem.strip_prefix(&format!("spark-{version}-bin-"))?;
        Some(format!("distribution {f} (flavour {flavour})"))
    });
    p
}

#[cfg(test)]
mod tests;

//! Jars as SBOM packages (pure: [`jar_package`] and its kin); reading a jar is
//! [`crate::jar`]'s, re-exported here.

use super::{encode_segment, Kind, Package};

impl Coordinates {
    pub fn purl(&self) -> String {
        format!(
            "pkg:maven/{}/{}@{}",
            encode_segment(&self.group),
            encode_segment(&self.artifact),
            encode_segment(&self.version)
        )
    }
}

/// The package of a jar at `path` in the image. One pom.properties: its coordinates.
/// Several (shaded): the one whose artifactId the file name starts with is the jar, the
/// others are contained packages; with none matching, the file name names the jar.
pub fn jar_package(path: &str, facts: &JarFacts) -> Package {
    let file = path.rsplit('/').next().unwrap_or(path);
    let main = match facts.poms.as_slice() {
        [one] => Some(one.clone()),
        many => many
            .iter()
            .filter(|c| file.starts_with(&format!("{}-", c.artifact)))
            .max_by_key(|c| c.artifact.len())
            .cloned(),
    };
    let mut p = match &main {
        Some(c) => {
            let mut p = Package::new(Kind::Jar, &c.artifact, &c.version, c.purl());
            p.group = Some(c.group.clone());
            p
        }
        None => {
            let (name, version) = from_file_name(file);
            let purl = if version.is_empty() {
                format!("pkg:generic/{}", encode_segment(&name))
            } else {
                format!(
                    "pkg:generic/{}@{}",
                    encode_segment(&name),
                    encode_segment(&version)
                )
            };
            let mut p = Package::new(Kind::Jar, &name, &version, purl);
            p.comment = Some(match &facts.unreadable {
                Some(why) => format!("coordinates from the file name ({why})"),
                None if facts.poms.is_empty() => {
                    "coordinates from the file name (no pom.properties)".into()
                }
                None => "coordinates from the file name (no pom.properties names the jar)".into(),
            });
            p
        }
    };
    p.path = Some(path.to_string());
    p.sha1 = Some(facts.sha1.clone());
    p.sha256 = Some(facts.sha256.clone());
    p.contains = facts
        .poms
        .iter()
        .filter(|c| Some(*c) != main.as_ref())
        .map(|c| {
            let mut q = Package::new(Kind::Jar, &c.artifact, &c.version, c.purl());
            q.group = Some(c.group.clone());
            q.path = Some(path.to_string());
            q.comment = Some("shaded into the jar".into());
            q
        })
        .collect();
    p
}

pub use crate::jar::{
    from_file_name, parse_pom_properties, scan, scan_bytes, scan_cached, scan_hashed, Coordinates,
    Hashes, HashingReader, JarError, JarFacts,
};

/// A `--packages` jar resolved as `coordinate` (`group:artifact:version[:classifier]`):
/// named by its own pom.properties when one names it, else by the coordinate it was
/// resolved as (many jars, e.g. sbt-built ones, carry no pom.properties).
pub fn resolved_jar_package(path: &str, facts: &JarFacts, coordinate: &str) -> Package {
    let mut p = jar_package(path, facts);
    let parts: Vec<&str> = coordinate.split(':').collect();
    let (true, [group, artifact, version, rest @ ..]) = (p.group.is_none(), parts.as_slice())
    else {
        return p;
    };
    let c = Coordinates {
        group: group.to_string(),
        artifact: artifact.to_string(),
        version: version.to_string(),
    };
    p.purl = match rest {
        [classifier] => format!("{}?classifier={}", c.purl(), super::encode(classifier)),
        _ => c.purl(),
    };
    p.group = Some(c.group);
    p.name = c.artifact;
    p.version = c.version;
    p.comment = Some(format!(
        "coordinates from the --packages resolution ({coordinate}); no pom.properties names the jar"
    ));
    p
}

/// How every comment of a jar the base holds starts (so [`Package::from_base`] knows
/// one, and `rebase` replaces it with the new base's).
pub const IN_BASE: &str = "in the base image";

/// The comment of a jar the base holds that is known by its path only.
pub const BASE_JAR_COMMENT: &str = "in the base image; coordinates from the file name";

/// `p`, a jar read from an image, marked as the base's (its comment starts [`IN_BASE`]).
pub fn mark_in_base(p: &mut Package) {
    p.comment = Some(match p.comment.take() {
        None => IN_BASE.to_string(),
        Some(c) => format!("{IN_BASE}; {c}"),
    });
}

/// A jar the base image holds: only its path is known (base layers are not re-read), so
/// it is named from its file name.
pub fn base_jar_package(path: &str) -> Package {
    let file = path.rsplit('/').next().unwrap_or(path);
    let (name, version) = from_file_name(file);
    let purl = match version.as_str() {
        "" => format!("pkg:generic/{}", encode_segment(&name)),
        v => format!(
            "pkg:generic/{}@{}",
            encode_segment(&name),
            encode_segment(v)
        ),
    };
    let mut p = Package::new(Kind::Jar, &name, &version, purl);
    p.path = Some(path.to_string());
    p.comment = Some(BASE_JAR_COMMENT.into());
    p
}

//! Pure: image references (`[host[:port]/]path:tag`), the default image names, and the
//! `--base` / `--output` location syntax.
//!
//! The grammar follows the distribution reference rules (lowercase path components with
//! `.`, `_`, `__` and `-` separators; tags `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`), because a
//! name docker or a registry would reject later should fail here, before any work.

use std::fmt;
use std::path::PathBuf;

use super::{Digest, OciError};

/// A repository name plus tag, e.g. `quay.io/x/spark:3.5.3`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImageRef {
    pub name: String,
    pub tag: String,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

fn bad(reference: &str, reason: impl Into<String>) -> OciError {
    OciError::InvalidReference {
        reference: reference.to_string(),
        reason: reason.into(),
    }
}

/// Check a tag (`3.5.3`, `latest`, `v1_rc-2`).
/// The one tag split of every reference: `host:5000/x/spark:3.5` → (`host:5000/x/spark`,
/// `Some("3.5")`); the colon of a port is not a tag's. A digest (`@sha256:…`) is not
/// part of either; [`without_digest`] drops it first where one may be present.
pub fn split_tag(reference: &str) -> (&str, Option<&str>) {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].rfind(':') {
        Some(i) => (&reference[..slash + i], Some(&reference[slash + i + 1..])),
        None => (reference, None),
    }
}

/// `name[:tag]@sha256:…` → `name[:tag]`.
pub fn without_digest(reference: &str) -> &str {
    reference.split('@').next().unwrap_or(reference)
}

/// `registry/repo` of a reference: tag and digest dropped.
pub fn repository_of(reference: &str) -> &str {
    split_tag(without_digest(reference)).0
}

/// Whether a full name an index records (`quay.io/x/spark:3.5.3`) answers to
/// `selector`: the same full name, or just its tag.
pub fn answers_to(name: &str, selector: &str) -> bool {
    name == selector || split_tag(name).1 == Some(selector)
}

pub fn validate_tag(tag: &str) -> Result<(), OciError> {
    let mut chars = tag.chars();
    let ok_first = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let ok_rest = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok_first || !ok_rest || tag.len() > 128 {
        return Err(bad(
            tag,
            "a tag is 1-128 of [A-Za-z0-9_.-] and cannot start with '.' or '-'",
        ));
    }
    Ok(())
}

fn valid_path_component(c: &str) -> bool {
    // [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum_lower(b[0]) || !is_alnum_lower(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum_lower(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum_lower(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// The first component is a registry host when it looks like one (docker's rule).
fn looks_like_domain(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// Check a repository name without tag (`quay.io/x/spark`, `spark`, `localhost:5000/a/b`).
pub fn validate_name(name: &str) -> Result<(), OciError> {
    if name.is_empty() {
        return Err(bad(name, "empty name"));
    }
    if name.len() > 255 {
        return Err(bad(name, "longer than 255 characters"));
    }
    let mut parts = name.split('/').peekable();
    let mut first = true;
    while let Some(p) = parts.next() {
        if first && parts.peek().is_some() && looks_like_domain(p) {
            if !valid_domain(p) {
                return Err(bad(name, format!("invalid registry host '{p}'")));
            }
        } else if !valid_path_component(p) {
            return Err(bad(
                name,
                format!(
                    "invalid path component '{p}': use lowercase letters, digits and single \
                     '.', '_', '__' or '-' separators"
                ),
            ));
        }
        first = false;
    }
    Ok(())
}

/// Parse `name:tag` (the tag is required; digests are not accepted for outputs).
pub fn parse_ref(s: &str) -> Result<ImageRef, OciError> {
    if s.contains('@') {
        return Err(bad(s, "a digest cannot name an image being built"));
    }
    // The tag is after the last ':' that follows the last '/', so host ports survive.
    let slash = s.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match s[slash..].rfind(':') {
        Some(i) => (&s[..slash + i], &s[slash + i + 1..]),
        None => return Err(bad(s, "missing ':tag'")),
    };
    validate_name(name)?;
    validate_tag(tag)?;
    Ok(ImageRef {
        name: name.to_string(),
        tag: tag.to_string(),
    })
}

/// `--name` may be a bare name (the tag is then `--tag`) or `name:tag`.
pub fn name_or_ref(s: &str, tag: &str) -> Result<ImageRef, OciError> {
    if split_tag(s).1.is_some() {
        parse_ref(s)
    } else {
        validate_name(s)?;
        validate_tag(tag)?;
        Ok(ImageRef {
            name: s.to_string(),
            tag: tag.to_string(),
        })
    }
}

/// docker-image-tool.sh's names: `[REPO/]spark`, `spark-py`, `spark-r`.
pub fn default_name(repo: Option<&str>, image: &str) -> String {
    match repo {
        Some(r) if !r.is_empty() => format!("{}/{image}", r.trim_end_matches('/')),
        _ => image.to_string(),
    }
}

/// Docker Hub as users write it, as its API host, and as credential stores key it.
pub const DOCKER_HUB: &str = "docker.io";
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// A fully qualified reference: `registry` is never empty and Docker Hub names carry
/// their implicit `library/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistryRef {
    /// Host as named (`docker.io`, `127.0.0.1:5000`, `quay.io`).
    pub registry: String,
    /// Repository path inside the registry (`library/eclipse-temurin`, `x/spark`).
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// The first component is a registry host when it looks like one (docker's rule).
fn looks_like_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost" || first.starts_with('[')
}

impl RegistryRef {
    /// Parse a user reference. Without a tag or digest the tag is `latest`, as docker.
    pub fn parse(s: &str) -> Result<RegistryRef, OciError> {
        let s = s.strip_prefix("docker://").unwrap_or(s);
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !Digest::is_valid(d) {
                    return Err(bad(s, format!("'{d}' is not a sha256:<64 hex> digest")));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let (name, tag) = split_tag(rest);
        let tag = tag.map(str::to_string);
        if let Some(t) = &tag {
            validate_tag(t).map_err(|_| bad(s, format!("invalid tag '{t}'")))?;
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if looks_like_host(first) => (first.to_string(), path.to_string()),
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
            _ => registry,
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        // IPv6 literals are not in the name grammar; check the path part only for them.
        let check = if registry.starts_with('[') {
            repository.clone()
        } else {
            format!("{registry}/{repository}")
        };
        validate_name(&check).map_err(|e| bad(s, e.to_string()))?;
        let tag = match (&tag, &digest) {
            (None, None) => Some("latest".to_string()),
            _ => tag,
        };
        Ok(RegistryRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The manifest reference on the wire: the digest when there is one.
    pub fn wire_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    pub fn with_tag(&self, tag: &str) -> RegistryRef {
        RegistryRef {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }
}

/// Where the base image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseSpec {
    /// A layout, an archive or a root file system tarball on disk.
    Local(Location),
    /// A registry reference; the CLI pulls it (see [`crate::registry::pull`]) and
    /// hands the build a [`BaseSpec::Pulled`].
    Registry(String),
    /// An image pulled from a registry into a one-image OCI layout; `name` is the
    /// registry reference, for the `org.opencontainers.image.base.name` annotation.
    Pulled { dir: PathBuf, name: String },
}

/// Split `PATH[:ref]`. Paths with ':' must be written without a ref (rare; documented).
fn path_and_ref(rest: &str) -> (PathBuf, Option<String>) {
    match rest.split_once(':') {
        Some((p, r)) if !r.is_empty() => (PathBuf::from(p), Some(r.to_string())),
        Some((p, _)) => (PathBuf::from(p), None),
        None => (PathBuf::from(rest), None),
    }
}

/// An image on disk, as every command names one: `oci:DIR[:REF]`,
/// `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]` or `rootfs:FILE`. The one
/// parser of these prefixes (`--base`, and the IMAGE/SOURCE of `push`, `sbom`,
/// `rebase`, `outdated`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    OciDir {
        dir: PathBuf,
        reference: Option<String>,
    },
    OciArchive {
        file: PathBuf,
        reference: Option<String>,
    },
    DockerArchive {
        file: PathBuf,
        reference: Option<String>,
    },
    Rootfs(PathBuf),
}

impl Location {
    /// `None`: `s` has none of the prefixes (a registry reference, for the caller).
    pub fn parse(s: &str) -> Result<Option<Location>, OciError> {
        let Some((kind, rest)) = s.split_once(':') else {
            return Ok(None);
        };
        let (path, reference) = match kind {
            "rootfs" => (PathBuf::from(rest), None),
            _ => path_and_ref(rest),
        };
        let location = match kind {
            "oci" => Location::OciDir {
                dir: path.clone(),
                reference,
            },
            "oci-archive" => Location::OciArchive {
                file: path.clone(),
                reference,
            },
            "docker-archive" => Location::DockerArchive {
                file: path.clone(),
                reference,
            },
            "rootfs" => Location::Rootfs(path.clone()),
            _ => return Ok(None),
        };
        if path.as_os_str().is_empty() {
            return Err(OciError::InvalidLocation {
                location: s.to_string(),
                reason: format!("{kind}: needs a path"),
            });
        }
        Ok(Some(location))
    }
}

impl Location {
    /// The prefix this location is written with.
    pub fn kind(&self) -> &'static str {
        match self {
            Location::OciDir { .. } => "oci",
            Location::OciArchive { .. } => "oci-archive",
            Location::DockerArchive { .. } => "docker-archive",
            Location::Rootfs(_) => "rootfs",
        }
    }

    /// The image selected inside it (`:REF`), if any.
    pub fn reference(&self) -> Option<&str> {
        match self {
            Location::OciDir { reference, .. }
            | Location::OciArchive { reference, .. }
            | Location::DockerArchive { reference, .. } => reference.as_deref(),
            Location::Rootfs(_) => None,
        }
    }

    /// How an image names this base (`org.opencontainers.image.base.name`): by content,
    /// never by path, so that the same base bytes anywhere give the same image:
    /// `KIND[:REF]@DIGEST` (`oci:17-jre@sha256:…`, `rootfs@sha256:…`).
    pub fn content_name(&self, digest: &str) -> String {
        match self.reference() {
            Some(r) => format!("{}:{r}@{digest}", self.kind()),
            None => format!("{}@{digest}", self.kind()),
        }
    }
}

/// Whether a recorded base name is a [`Location::content_name`]: a base read from disk,
/// which nothing can look up again (no path is recorded).
pub fn is_content_name(name: &str) -> bool {
    let Some((head, digest)) = name.rsplit_once('@') else {
        return false;
    };
    let kind = head.split_once(':').map_or(head, |(k, _)| k);
    ["oci", "oci-archive", "docker-archive", "rootfs"].contains(&kind)
        && super::Digest::is_valid(digest)
}

impl BaseSpec {
    pub fn parse(s: &str) -> Result<BaseSpec, OciError> {
        Ok(match Location::parse(s)? {
            Some(l) => BaseSpec::Local(l),
            None => BaseSpec::Registry(s.strip_prefix("docker://").unwrap_or(s).to_string()),
        })
    }
}

/// The default base per Spark major version (documented in `--help`): the JRE images
/// upstream's Dockerfile used for that line.
pub fn default_base(major: u32) -> &'static str {
    match major {
        0..=2 => "eclipse-temurin:8-jre",
        _ => "eclipse-temurin:17-jre",
    }
}

/// Where the images go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSpec {
    OciDir(PathBuf),
    OciArchive(PathBuf),
    DockerArchive(PathBuf),
}

impl OutputSpec {
    pub fn parse(s: &str) -> Result<OutputSpec, OciError> {
        let bad = |reason: &str| OciError::InvalidLocation {
            location: s.to_string(),
            reason: reason.to_string(),
        };
        let (kind, path) = s
            .split_once(':')
            .ok_or_else(|| bad("expected oci:DIR, oci-archive:FILE or docker-archive:FILE"))?;
        if path.is_empty() {
            return Err(bad("missing path"));
        }
        let p = PathBuf::from(path);
        match kind {
            "oci" => Ok(OutputSpec::OciDir(p)),
            "oci-archive" => Ok(OutputSpec::OciArchive(p)),
            "docker-archive" => Ok(OutputSpec::DockerArchive(p)),
            _ => Err(bad(
                "expected oci:DIR, oci-archive:FILE or docker-archive:FILE",
            )),
        }
    }

    pub fn path(&self) -> &PathBuf {
        match self {
            OutputSpec::OciDir(p) | OutputSpec::OciArchive(p) | OutputSpec::DockerArchive(p) => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs() {
        let r = parse_ref("quay.io/x/spark:3.5.3").unwrap();
        assert_eq!(
            (r.name.as_str(), r.tag.as_str()),
            ("quay.io/x/spark", "3.5.3")
        );
        let r = parse_ref("localhost:5000/spark-py:latest").unwrap();
        assert_eq!(r.name, "localhost:5000/spark-py");
        assert!(parse_ref("Quay/x:1").is_err());
        assert!(parse_ref("spark").is_err());
        assert!(parse_ref("spark:-x").is_err());
        assert!(parse_ref("spark:a b").is_err());
        assert!(parse_ref("a//b:1").is_err());
        assert!(parse_ref("a--b/c__d/e.f:1").is_ok());
        assert!(parse_ref("a___b:1").is_err());
        assert!(parse_ref("x@sha256:00:1").is_err());
        assert_eq!(name_or_ref("r/n", "t").unwrap().to_string(), "r/n:t");
        assert_eq!(name_or_ref("r/n:u", "t").unwrap().to_string(), "r/n:u");
        assert_eq!(default_name(Some("quay.io/x/"), "spark"), "quay.io/x/spark");
        assert_eq!(default_name(None, "spark-py"), "spark-py");
    }

    #[test]
    fn locations() {
        assert_eq!(
            BaseSpec::parse("oci:/a/b:3").unwrap(),
            BaseSpec::Local(Location::OciDir {
                dir: "/a/b".into(),
                reference: Some("3".into())
            })
        );
        assert_eq!(
            BaseSpec::parse("rootfs:/x.tar.gz").unwrap(),
            BaseSpec::Local(Location::Rootfs("/x.tar.gz".into()))
        );
        assert_eq!(
            BaseSpec::parse("eclipse-temurin:17-jre").unwrap(),
            BaseSpec::Registry("eclipse-temurin:17-jre".into())
        );
        assert!(BaseSpec::parse("oci:").is_err());
        let d = format!("sha256:{}", "a".repeat(64));
        let named = |s: &str| match BaseSpec::parse(s).unwrap() {
            BaseSpec::Local(l) => l.content_name(&d),
            other => panic!("{other:?}"),
        };
        assert_eq!(named("oci:/a/b:3"), format!("oci:3@{d}"));
        assert_eq!(named("rootfs:/x.tar.gz"), format!("rootfs@{d}"));
        assert_eq!(
            named("docker-archive:/t.tar:eclipse-temurin:17-jre"),
            format!("docker-archive:eclipse-temurin:17-jre@{d}")
        );
        assert!(is_content_name(&named("oci-archive:/a.tar")));
        assert!(!is_content_name(&format!("eclipse-temurin@{d}")));
        assert!(!is_content_name("oci:/a/b"));
        assert_eq!(
            OutputSpec::parse("docker-archive:o.tar").unwrap(),
            OutputSpec::DockerArchive("o.tar".into())
        );
        assert!(OutputSpec::parse("dir:x").is_err());
        assert_eq!(default_base(2), "eclipse-temurin:8-jre");
        assert_eq!(default_base(4), "eclipse-temurin:17-jre");
    }

    fn p(s: &str) -> RegistryRef {
        RegistryRef::parse(s).unwrap()
    }

    #[test]
    fn docker_hub_normalisation() {
        let r = p("eclipse-temurin:17-jre");
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/eclipse-temurin");
        assert_eq!(r.tag.as_deref(), Some("17-jre"));
        assert_eq!(r.to_string(), "docker.io/library/eclipse-temurin:17-jre");
        assert_eq!(p("bitnami/spark").tag.as_deref(), Some("latest"));
        assert_eq!(p("bitnami/spark").repository, "bitnami/spark");
        assert_eq!(p("index.docker.io/x/y:1").registry, "docker.io");
        assert_eq!(p("docker://alpine").repository, "library/alpine");
    }

    #[test]
    fn hosts_ports_digests() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = p(&format!("registry.local/team/jre@{d}"));
        assert_eq!(r.registry, "registry.local");
        assert_eq!(r.repository, "team/jre");
        assert_eq!(r.tag, None);
        assert_eq!(r.wire_reference(), d);
        let r = p(&format!("127.0.0.1:5000/x/base:1@{d}"));
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.wire_reference(), d);
        let r = p("localhost/a");
        assert_eq!(r.registry, "localhost");
        assert_eq!(p("[::1]:5000/a/b:2").registry, "[::1]:5000");
        assert!(RegistryRef::parse("x@sha256:abc").is_err());
        assert!(RegistryRef::parse("Upper/x:1").is_err());
        assert!(RegistryRef::parse("x:bad tag").is_err());
        assert!(RegistryRef::parse("").is_err());
    }

    #[test]
    fn tags_split_once() {
        assert_eq!(
            split_tag("host:5000/x/spark:3.5"),
            ("host:5000/x/spark", Some("3.5"))
        );
        assert_eq!(split_tag("host:5000/x/spark"), ("host:5000/x/spark", None));
        assert_eq!(repository_of("r.io/a/b:1@sha256:00"), "r.io/a/b");
        assert!(answers_to("r.io/a/b:1", "1") && answers_to("r.io/a/b:1", "r.io/a/b:1"));
        assert!(!answers_to("r.io/a/b:1", "b:1"));
    }
}

//! Pure: image references (`[host[:port]/]path:tag`), the default image names, and the
//! `--base` / `--output` location syntax.
//!
//! The grammar follows the distribution reference rules (lowercase path components with
//! `.`, `_`, `__` and `-` separators; tags `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`), because a
//! name docker or a registry would reject later should fail here, before any work.

use std::fmt;
use std::path::PathBuf;

use super::error::BuildError;

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

fn bad(reference: &str, reason: impl Into<String>) -> BuildError {
    BuildError::InvalidReference {
        reference: reference.to_string(),
        reason: reason.into(),
    }
}

/// Check a tag (`3.5.3`, `latest`, `v1_rc-2`).
pub fn validate_tag(tag: &str) -> Result<(), BuildError> {
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
pub fn validate_name(name: &str) -> Result<(), BuildError> {
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
pub fn parse_ref(s: &str) -> Result<ImageRef, BuildError> {
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
pub fn name_or_ref(s: &str, tag: &str) -> Result<ImageRef, BuildError> {
    let slash = s.rfind('/').map_or(0, |i| i + 1);
    if s[slash..].contains(':') {
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

/// Where the base image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseSpec {
    /// OCI image layout directory, optionally selecting a ref name.
    OciDir {
        dir: PathBuf,
        reference: Option<String>,
    },
    OciArchive {
        file: PathBuf,
        reference: Option<String>,
    },
    /// `docker save` output (legacy manifest.json, or OCI layout inside the tar).
    DockerArchive {
        file: PathBuf,
        reference: Option<String>,
    },
    /// A root filesystem tarball (optionally gzip/zstd) that becomes the only base layer.
    Rootfs(PathBuf),
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

impl BaseSpec {
    pub fn parse(s: &str) -> Result<BaseSpec, BuildError> {
        let empty = |what: &str| BuildError::InvalidLocation {
            location: s.to_string(),
            reason: format!("{what} needs a path"),
        };
        if let Some(rest) = s.strip_prefix("oci:") {
            let (dir, reference) = path_and_ref(rest);
            if dir.as_os_str().is_empty() {
                return Err(empty("oci:"));
            }
            return Ok(BaseSpec::OciDir { dir, reference });
        }
        if let Some(rest) = s.strip_prefix("oci-archive:") {
            let (file, reference) = path_and_ref(rest);
            if file.as_os_str().is_empty() {
                return Err(empty("oci-archive:"));
            }
            return Ok(BaseSpec::OciArchive { file, reference });
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            let (file, reference) = path_and_ref(rest);
            if file.as_os_str().is_empty() {
                return Err(empty("docker-archive:"));
            }
            return Ok(BaseSpec::DockerArchive { file, reference });
        }
        if let Some(rest) = s.strip_prefix("rootfs:") {
            if rest.is_empty() {
                return Err(empty("rootfs:"));
            }
            return Ok(BaseSpec::Rootfs(PathBuf::from(rest)));
        }
        let r = s.strip_prefix("docker://").unwrap_or(s);
        Ok(BaseSpec::Registry(r.to_string()))
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
    pub fn parse(s: &str) -> Result<OutputSpec, BuildError> {
        let bad = |reason: &str| BuildError::InvalidLocation {
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
            BaseSpec::OciDir {
                dir: "/a/b".into(),
                reference: Some("3".into())
            }
        );
        assert_eq!(
            BaseSpec::parse("rootfs:/x.tar.gz").unwrap(),
            BaseSpec::Rootfs("/x.tar.gz".into())
        );
        assert_eq!(
            BaseSpec::parse("eclipse-temurin:17-jre").unwrap(),
            BaseSpec::Registry("eclipse-temurin:17-jre".into())
        );
        assert!(BaseSpec::parse("oci:").is_err());
        assert_eq!(
            OutputSpec::parse("docker-archive:o.tar").unwrap(),
            OutputSpec::DockerArchive("o.tar".into())
        );
        assert!(OutputSpec::parse("dir:x").is_err());
        assert_eq!(default_base(2), "eclipse-temurin:8-jre");
        assert_eq!(default_base(4), "eclipse-temurin:17-jre");
    }
}

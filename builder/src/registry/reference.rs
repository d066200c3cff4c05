//! Pure: registry references (`[host[:port]/]path[:tag][@sha256:…]`), Docker Hub
//! normalisation, and which transport a host gets.
//!
//! The name grammar is the build's ([`crate::image::reference::validate_name`]); this
//! module adds digests and the registry/repository split the wire protocol needs.

use std::fmt;

use super::error::RegistryError;
use crate::image::reference::{validate_name, validate_tag};

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

fn bad(reference: &str, reason: impl Into<String>) -> RegistryError {
    RegistryError::InvalidReference {
        reference: reference.to_string(),
        reason: reason.into(),
    }
}

/// `sha256:` + 64 lowercase hex digits (the only algorithm we produce or verify).
pub fn validate_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The first component is a registry host when it looks like one (docker's rule).
fn looks_like_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost" || first.starts_with('[')
}

impl RegistryRef {
    /// Parse a user reference. Without a tag or digest the tag is `latest`, as docker.
    pub fn parse(s: &str) -> Result<RegistryRef, RegistryError> {
        let s = s.strip_prefix("docker://").unwrap_or(s);
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !validate_digest(d) {
                    return Err(bad(s, format!("'{d}' is not a sha256:<64 hex> digest")));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
            None => (rest, None),
        };
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

/// Host the API lives on (`docker.io` → `registry-1.docker.io`).
pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    }
}

/// Keys to look a registry up under in credential stores, most specific first.
/// Docker writes Hub credentials under its v1 URL; other registries under the bare host,
/// sometimes with a scheme (old `docker login` wrote `https://host`).
pub fn auth_keys(registry: &str) -> Vec<String> {
    if registry == DOCKER_HUB {
        return vec![
            DOCKER_HUB_AUTH_KEY.to_string(),
            "docker.io".into(),
            "index.docker.io".into(),
            "registry-1.docker.io".into(),
        ];
    }
    vec![
        registry.to_string(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ]
}

/// Host part without the port (`[::1]:5000` → `[::1]`, `a:5000` → `a`).
fn host_only(registry: &str) -> &str {
    if registry.starts_with('[') {
        return match registry.find(']') {
            Some(i) => &registry[..=i],
            None => registry,
        };
    }
    registry.split(':').next().unwrap_or(registry)
}

/// Plain HTTP may be tried (after HTTPS) only for loopback names and registries the user
/// named with `--insecure-registry HOST[:PORT]` (a bare HOST matches any port).
pub fn allows_plain_http(registry: &str, insecure: &[String]) -> bool {
    let host = host_only(registry);
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
        || insecure
            .iter()
            .any(|i| i == registry || (!i.contains(':') && i == host))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(auth_keys("docker.io")[0], "https://index.docker.io/v1/");
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
    fn plain_http_only_for_loopback_and_named_hosts() {
        assert!(allows_plain_http("127.0.0.1:5000", &[]));
        assert!(allows_plain_http("localhost", &[]));
        assert!(allows_plain_http("[::1]:443", &[]));
        assert!(!allows_plain_http("quay.io", &[]));
        assert!(!allows_plain_http("127.0.0.2:5000", &[]));
        let ins = vec!["reg.lan:5000".to_string(), "other.lan".to_string()];
        assert!(allows_plain_http("reg.lan:5000", &ins));
        assert!(!allows_plain_http("reg.lan:6000", &ins));
        assert!(allows_plain_http("other.lan:1234", &ins));
    }
}

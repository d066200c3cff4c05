//! Errors of the registry client. Every remote failure names the registry, the
//! repository and (when there is one) the digest, plus the HTTP status and the
//! registry's own error codes.

use std::path::PathBuf;

use thiserror::Error;

/// One entry of the OCI error envelope `{"errors":[{"code","message"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RemoteError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, serde::Deserialize)]
struct Envelope {
    #[serde(default)]
    errors: Vec<RemoteError>,
}

/// Pure: the error envelope of a response body, if it is one.
pub fn parse_envelope(body: &[u8]) -> Vec<RemoteError> {
    serde_json::from_slice::<Envelope>(body)
        .map(|e| e.errors)
        .unwrap_or_default()
}

fn describe(errors: &[RemoteError]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = errors
        .iter()
        .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
            (false, false) => format!("{}: {}", e.code, e.message),
            (false, true) => e.code.clone(),
            _ => e.message.clone(),
        })
        .collect();
    format!(" ({})", parts.join("; "))
}

fn tried(earlier: &[String]) -> String {
    if earlier.is_empty() {
        return String::new();
    }
    format!(" (tried {}; then the last)", earlier.join("; "))
}

fn digest_part(d: &Option<String>) -> String {
    d.as_ref().map(|d| format!(" {d}")).unwrap_or_default()
}

#[derive(Debug, Error)]
pub enum RegistryError {
    /// A reference the grammar refuses.
    #[error(transparent)]
    Reference(#[from] crate::oci::OciError),

    #[error("credentials: {0}")]
    Credentials(String),

    #[error(
        "{registry}/{repository}: {what}{}: authentication failed, HTTP {status}{}{}",
        digest_part(.digest), describe(.errors),
        if *.anonymous {
            "; no credentials were found for this registry (docker login / podman login, \
             --creds, or --username with --password-stdin)"
        } else {
            ""
        }
    )]
    Unauthorized {
        registry: String,
        repository: String,
        what: String,
        digest: Option<String>,
        status: u16,
        errors: Vec<RemoteError>,
        /// We had no credentials to offer: say where they come from.
        anonymous: bool,
    },

    #[error(
        "{registry}/{repository}: {what}{}: HTTP {status}{}",
        digest_part(.digest), describe(.errors)
    )]
    Http {
        registry: String,
        repository: String,
        what: String,
        digest: Option<String>,
        status: u16,
        errors: Vec<RemoteError>,
    },

    #[error("{registry}/{repository}: {what}{}", digest_part(.digest))]
    Transport {
        registry: String,
        repository: String,
        what: String,
        digest: Option<String>,
        #[source]
        source: crate::http::client::TransferError,
    },

    #[error(
        "{registry}/{repository}: {what}: content is {actual}, expected {expected} \
         (corrupted in transit or a misbehaving registry)"
    )]
    DigestMismatch {
        registry: String,
        repository: String,
        what: String,
        expected: String,
        actual: String,
    },

    #[error("{reference}: {reason}")]
    Manifest { reference: String, reason: String },

    #[error("{reference}: no {platform} image (available: {available})")]
    NoPlatform {
        reference: String,
        platform: String,
        available: String,
    },

    #[error("{}: {reason}", .path.display())]
    Layout { path: PathBuf, reason: String },

    /// The mirror configuration leaves no endpoint for this reference.
    #[error("{reference}: no endpoint may serve it ({why})")]
    Unrouted { reference: String, why: String },

    /// Every endpoint (mirrors, then the upstream) failed; `last` is the last one's error.
    #[error("{reference}: no mirror or upstream served it{}", tried(.earlier))]
    Endpoints {
        reference: String,
        /// Each earlier endpoint and what it said, in order.
        earlier: Vec<String>,
        /// How the registry's mirrors were configured (a file or `--registry-mirror`).
        origin: Option<String>,
        #[source]
        last: Box<RegistryError>,
    },

    /// A mirror configuration (file or flag) the parser refuses.
    #[error(transparent)]
    MirrorConfig(#[from] super::mirrors::MirrorConfigError),

    /// A pulled blob's cache lock not obtained in time.
    #[error(transparent)]
    Lock(#[from] crate::cache::CacheError),

    #[error("{}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RegistryError {
    /// What to do about it, printed by `main` on its own line.
    pub fn hint(&self) -> Option<String> {
        match self {
            RegistryError::Lock(c) => c.hint(),
            RegistryError::Unrouted { .. } | RegistryError::Endpoints { .. } => {
                let from = match self {
                    RegistryError::Endpoints {
                        origin: Some(o), ..
                    } => format!("this registry's mirrors come from {o}; "),
                    _ => String::new(),
                };
                Some(format!(
                    "{from}--registry-mirror HOST=URL, --registries-conf FILE and \
                     --registry-hosts-dir DIR set mirrors; --registry-mirrors-only forbids \
                     the upstream"
                ))
            }
            RegistryError::MirrorConfig(_) => {
                Some("fix the file or flag named (see docs/registry-mirrors.md)".into())
            }
            _ => None,
        }
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> RegistryError {
        let path = path.into();
        move |source| RegistryError::Io { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_and_message() {
        let e = parse_envelope(
            br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":"x"}]}"#,
        );
        assert_eq!(e[0].code, "BLOB_UNKNOWN");
        assert!(parse_envelope(b"<html>").is_empty());
        let err = RegistryError::Http {
            registry: "r:5000".into(),
            repository: "x/spark".into(),
            what: "upload blob".into(),
            digest: Some("sha256:ab".into()),
            status: 400,
            errors: e,
        };
        assert_eq!(
            err.to_string(),
            "r:5000/x/spark: upload blob sha256:ab: HTTP 400 (BLOB_UNKNOWN: blob unknown to registry)"
        );
        assert_eq!(
            crate::exit::classify([&err as &(dyn std::error::Error + 'static)]),
            9
        );
    }
}

//! The one configured HTTP client (blocking reqwest on rustls with the aws-lc-rs provider)
//! and what its errors mean for a retry. Building a client opens no connection; only
//! `fetch::download` and `registry::client` send requests with it.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use thiserror::Error;

use super::retry::{parse_retry_after, RetryPolicy};

/// What differs between the users of the client.
#[derive(Debug, Clone, Copy)]
pub struct ClientConfig<'a> {
    pub policy: &'a RetryPolicy,
    /// PEM CA bundles trusted beside the system roots (`--ca-cert`).
    pub ca_certs: &'a [PathBuf],
    /// Idle connections kept per host, so parallel transfers reuse them.
    pub max_idle_per_host: usize,
}

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("reading {}", .path.display())]
    CaRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {reason}", .path.display())]
    CaInvalid { path: PathBuf, reason: String },
    #[error("TLS setup")]
    Build(#[source] reqwest::Error),
}

/// Why one HTTP attempt failed, kept as the source of the error it ends in, so the
/// message names each cause once ("connection refused", "UnknownIssuer").
#[derive(Debug, Error)]
pub enum TransferError {
    /// The request's own error (connect, TLS, timeout).
    #[error(transparent)]
    Request(#[from] reqwest::Error),
    /// Reading the answer's body failed part way.
    #[error("transfer interrupted")]
    Interrupted(#[from] std::io::Error),
    /// An answer that is not usable (a status, a short body, a bad header).
    #[error("{0}")]
    Answer(String),
    /// Anything else the attempt ran into (an unparsable URL).
    #[error(transparent)]
    Other(Box<dyn StdError + Send + Sync>),
}

impl From<String> for TransferError {
    fn from(s: String) -> Self {
        TransferError::Answer(s)
    }
}

impl From<&str> for TransferError {
    fn from(s: &str) -> Self {
        TransferError::Answer(s.to_string())
    }
}

impl From<url::ParseError> for TransferError {
    fn from(e: url::ParseError) -> Self {
        TransferError::Other(Box::new(e))
    }
}

/// Build the client: user agent, system roots plus `cfg.ca_certs`, the policy's connect
/// timeout, and the policy's read timeout as the limit on each wait (for the answer,
/// then for each read of the body) of a request that sets no limit of its own. That
/// is a stall limit, not a total: a 300 MB download that keeps moving is never cut
/// off. Requests whose progress cannot be watched per read (uploads) set their own
/// whole-request limit ([`RetryPolicy::transfer_timeout`]). Redirects are followed
/// (mirrors and blob stores redirect; reqwest drops `Authorization` across hosts);
/// no transparent decompression (a `.tgz` is hashed as served).
pub fn build(cfg: &ClientConfig) -> Result<Client, ClientError> {
    // Ignore "already installed": an earlier client of this process installed it.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut b = Client::builder()
        .user_agent(concat!("sparkimg/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(cfg.policy.connect_timeout)
        .timeout(cfg.policy.read_timeout)
        .pool_max_idle_per_host(cfg.max_idle_per_host.max(1));
    let mut certs = Vec::new();
    for p in cfg.ca_certs {
        certs.extend(read_ca_bundle(p)?);
    }
    if !certs.is_empty() {
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(ClientError::Build)
}

fn read_ca_bundle(p: &Path) -> Result<Vec<reqwest::Certificate>, ClientError> {
    let pem = std::fs::read(p).map_err(|source| ClientError::CaRead {
        path: p.to_path_buf(),
        source,
    })?;
    let invalid = |reason: String| ClientError::CaInvalid {
        path: p.to_path_buf(),
        reason,
    };
    let list = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| invalid(format!("not a PEM certificate bundle: {e}")))?;
    if list.is_empty() {
        return Err(invalid("no certificate in the file".into()));
    }
    Ok(list)
}

/// Whether a failed request is worth another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Refused connections, resets, timeouts, truncated bodies.
    Transient,
    /// A malformed request, a redirect loop, a certificate the trust roots reject:
    /// the same request fails the same way.
    Permanent,
    /// A name that does not resolve (NXDOMAIN) or a refused connection: nothing listens
    /// there, and seconds of backoff rarely change that. A caller with another endpoint
    /// fails over at once.
    Unreachable,
}

pub fn classify_error(e: &reqwest::Error) -> ErrorClass {
    if e.is_builder() || e.is_redirect() || rejects_certificate(e) {
        ErrorClass::Permanent
    } else if is_unreachable(e) {
        ErrorClass::Unreachable
    } else {
        ErrorClass::Transient
    }
}

/// Pure: whether the error's chain is a refused connection or a name the resolver says
/// does not exist. A temporary resolver failure (EAI_AGAIN) is not: it may pass.
pub fn is_unreachable(e: &(dyn StdError + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        let io = err.downcast_ref::<std::io::Error>();
        if io.is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused) {
            return true;
        }
        if let Some(inner) = io.and_then(|io| io.get_ref()) {
            if is_unreachable(inner) {
                return true;
            }
        }
        cur = err.source();
    }
    // getaddrinfo's answers reach us only as text (glibc, then musl wording).
    let text = crate::report::chain(e).to_ascii_lowercase();
    text.contains("dns error")
        && [
            "name or service not known",
            "no address associated with hostname",
            "name does not resolve",
            "nodename nor servname",
        ]
        .iter()
        .any(|m| text.contains(m))
}

/// Pure: whether a certificate was refused somewhere in the error's chain. Checks the
/// TLS library's typed error (hyper wraps it in an `io::Error`, whose `source()` skips
/// the wrapped error itself, so that is unwrapped explicitly).
pub fn rejects_certificate(e: &(dyn StdError + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            if matches!(
                tls,
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::NoCertificatesPresented
                    | rustls::Error::InvalidCertRevocationList(_)
                    | rustls::Error::UnsupportedNameType
            ) {
                return true;
            }
        }
        let wrapped = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if let Some(inner) = wrapped {
            if rejects_certificate(inner) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// reqwest's Display hides the cause ("error sending request"); the chain has the
/// useful part ("connection refused", "invalid peer certificate: UnknownIssuer").
pub fn error_chain(e: &(dyn StdError + 'static)) -> String {
    crate::report::chain(e)
}

/// The server's `Retry-After`, if it sent a readable one.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[derive(Debug, Error)]
    #[error("client error (Connect)")]
    struct Outer(#[source] io::Error);

    #[test]
    fn certificate_rejections_are_found_through_io_errors() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let e = Outer(io::Error::new(io::ErrorKind::InvalidData, tls));
        assert!(rejects_certificate(&e));
        assert!(
            error_chain(&e).contains("UnknownIssuer"),
            "{}",
            error_chain(&e)
        );
        let direct = rustls::Error::NoCertificatesPresented;
        assert!(rejects_certificate(&direct));
    }

    #[test]
    fn other_failures_are_not_certificate_rejections() {
        let refused = Outer(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(!rejects_certificate(&refused));
        // A TLS failure that is not about the certificate (e.g. plain HTTP on the port).
        let garbled = Outer(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        ));
        assert!(!rejects_certificate(&garbled));
    }

    #[test]
    fn refused_connections_and_unknown_names_are_unreachable() {
        let refused = Outer(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(is_unreachable(&refused));
        #[derive(Debug, Error)]
        #[error("dns error")]
        struct Dns(#[source] io::Error);
        let nx = Dns(io::Error::other(
            "failed to lookup address information: Name or service not known",
        ));
        assert!(is_unreachable(&Outer(io::Error::other(nx))));
        let again = Dns(io::Error::other(
            "failed to lookup address information: Temporary failure in name resolution",
        ));
        assert!(!is_unreachable(&again), "EAI_AGAIN may pass: retried");
        let reset = Outer(io::Error::from(io::ErrorKind::ConnectionReset));
        assert!(!is_unreachable(&reset));
    }

    #[test]
    fn retry_after_header() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(RETRY_AFTER, "later".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn bad_ca_files_are_refused_with_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no pem here\n").unwrap();
        let policy = RetryPolicy::default();
        for (file, want) in [
            (empty, "no certificate in the file"),
            (dir.path().join("missing.pem"), "reading"),
        ] {
            let cfg = ClientConfig {
                policy: &policy,
                ca_certs: std::slice::from_ref(&file),
                max_idle_per_host: 1,
            };
            let err = build(&cfg).unwrap_err().to_string();
            assert!(
                err.contains(want) && err.contains(&*file.to_string_lossy()),
                "{err}"
            );
        }
    }
}

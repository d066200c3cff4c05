//! Errors of `sparkimg fetch`. Each message names what failed and what the user can do.

use std::path::PathBuf;

use thiserror::Error;

use super::checksum::ChecksumParseError;

#[derive(Debug, Error)]
pub enum FetchError {
    /// A version the shared grammar refuses, when it surfaces inside a fetch.
    #[error(transparent)]
    InvalidVersion(#[from] super::VersionError),

    #[error("Spark {version}: {reason}")]
    UnsupportedBuild { version: String, reason: String },

    #[error("unsupported URL `{url}`: only http:// and https:// mirrors are supported")]
    UnsupportedUrl { url: String },

    #[error("no mirrors to try")]
    NoMirrors,

    #[error("no checksum at {url}")]
    ChecksumMissing { url: String },

    #[error("cannot parse checksum file {url}")]
    ChecksumUnparsable {
        url: String,
        #[source]
        source: ChecksumParseError,
    },

    #[error("SHA-512 mismatch for {url}\n  expected: {expected}\n  actual:   {actual}")]
    ChecksumMismatch {
        url: String,
        expected: String,
        actual: String,
    },

    #[error("signature check failed for {url}: {reason}")]
    Signature { url: String, reason: String },

    #[error("every source failed for {file}:\n{}", .failures.iter().map(|f| format!("  - {}", crate::report::chain(f))).collect::<Vec<_>>().join("\n"))]
    AllSourcesFailed {
        file: String,
        failures: Vec<FetchError>,
    },

    #[error("refusing unsafe archive entry `{entry}`: {reason}")]
    UnsafeArchive { entry: String, reason: String },

    #[error("archive too large: {what} exceeds the limit of {limit} bytes (raise the limit if this is expected)")]
    ArchiveTooLarge { what: String, limit: u64 },

    #[error("corrupt archive {path}")]
    CorruptArchive {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A download from a mirror.
    #[error(transparent)]
    Download(#[from] crate::http::DownloadError),

    /// A cache lock not obtained in time.
    #[error(transparent)]
    Lock(#[from] crate::cache::CacheError),

    #[error("HTTP client setup")]
    Client(#[from] crate::http::ClientError),

    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    /// What to do about it, printed by `main` on its own line.
    pub fn hint(&self) -> Option<String> {
        const TRUST: &str = "pass --insecure-skip-verify only if you trust this source";
        let h = match self {
            FetchError::NoMirrors => "pass --mirror URL or set SPARKIMG_MIRRORS",
            FetchError::ChecksumMissing { .. } => {
                return Some(format!("a release always has a .sha512 beside it; {TRUST}"))
            }
            FetchError::ChecksumUnparsable { .. } => TRUST,
            FetchError::ChecksumMismatch { .. } => {
                "the mirror may be serving a corrupt or tampered file; try another one with \
                 --mirror https://archive.apache.org/dist/spark/"
            }
            FetchError::Download(d) => return d.hint(),
            FetchError::AllSourcesFailed { failures, .. } => {
                return failures.iter().find_map(FetchError::hint)
            }
            FetchError::Lock(c) => return c.hint(),
            _ => return None,
        };
        Some(h.to_string())
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        FetchError::Io {
            context: context.into(),
            source,
        }
    }

    /// The content could not be verified (bad digest or signature, missing checksum):
    /// the CLI gives these their own exit code because retrying will not help.
    pub fn is_verification_failure(&self) -> bool {
        match self {
            FetchError::ChecksumMismatch { .. }
            | FetchError::ChecksumMissing { .. }
            | FetchError::ChecksumUnparsable { .. }
            | FetchError::Signature { .. } => true,
            FetchError::AllSourcesFailed { failures, .. } => {
                failures.iter().any(FetchError::is_verification_failure)
            }
            _ => false,
        }
    }

    /// The archive itself is hostile or too big.
    pub fn is_unsafe_archive(&self) -> bool {
        matches!(
            self,
            FetchError::UnsafeArchive { .. } | FetchError::ArchiveTooLarge { .. }
        )
    }
}

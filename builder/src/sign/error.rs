//! Why a key could not be read, made or used.

use std::path::PathBuf;

use thiserror::Error;

/// A signing failure: the key file, its passphrase, or a signer not offered.
#[derive(Debug, Error)]
pub enum SignError {
    #[error("reading {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Neither a PEM private key nor cosign's encrypted key.
    #[error("{} is not a private key: {reason}", .path.display())]
    NotAKey { path: PathBuf, reason: String },
    /// `verify --key` names something other than an ECDSA P-256 public key.
    #[error("{} is not a public key: {reason}", .path.display())]
    NotAPublicKey { path: PathBuf, reason: String },
    /// A private key, but not ECDSA P-256.
    #[error("{} is a {found} key; only ECDSA P-256 keys sign", .path.display())]
    UnsupportedKey { path: PathBuf, found: String },
    /// The encrypted key did not open with the passphrase given (none: the empty one).
    #[error("wrong passphrase for {}{}", .path.display(), if *.given { "" } else { " (none given, so the empty one was tried)" })]
    WrongPassphrase { path: PathBuf, given: bool },
    /// cosign's format, but fields this version cannot read.
    #[error("{} is not a usable cosign key: {reason}", .path.display())]
    BadEncryptedKey { path: PathBuf, reason: String },
    /// `keygen` would overwrite a key.
    #[error("{} exists", .path.display())]
    Exists { path: PathBuf },
    /// Fulcio/Rekor signing needs the public Sigstore services.
    #[error("keyless signing (Fulcio certificates, Rekor entries) is not offered yet")]
    KeylessNotYet,
    #[error("the system's random generator failed")]
    Random,
    /// `verify`: a check failed (each is printed with its fix).
    #[error("{image} did not verify: {failed} failed")]
    Unverified {
        image: String,
        failed: String,
        fix: String,
    },
}

impl SignError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SignError {
        let path = path.into();
        move |source| SignError::Io { path, source }
    }

    /// What to do about it, for `main`'s `hint:` line.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            SignError::NotAKey { .. } => "pass the private key (cosign.key from `sparkimg keygen` or `cosign generate-key-pair`, or a PKCS#8 PEM `PRIVATE KEY`), not the public one".into(),
            SignError::NotAPublicKey { .. } => "pass the public key (cosign.pub from `sparkimg keygen`, or `openssl ec -pubout` of the signing key)".into(),
            SignError::UnsupportedKey { .. } => "make an ECDSA P-256 key: `sparkimg keygen`, or `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`".into(),
            SignError::WrongPassphrase { .. } => format!(
                "give the key's passphrase on stdin (--sign-key-pass-stdin) or in {}",
                crate::env_vars::KEY_PASSWORD
            ),
            SignError::BadEncryptedKey { .. } => "re-create the key with `sparkimg keygen` or `cosign generate-key-pair`".into(),
            SignError::Exists { .. } => "remove it, or choose another --output-key-prefix".into(),
            SignError::KeylessNotYet => "sign with a key: `sparkimg keygen`, then --sign-key cosign.key".into(),
            SignError::Unverified { fix, .. } => fix.clone(),
            SignError::Io { .. } | SignError::Random => return None,
        })
    }
}

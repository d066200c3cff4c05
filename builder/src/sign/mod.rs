//! Image signatures, pure: keys ([`key`]: ECDSA P-256 in PKCS#8 PEM or cosign's
//! encrypted format, `keygen`'s pair) and cosign's signature objects ([`cosign`]: the
//! simple-signing payload, the `.sig` manifest, the OCI 1.1 referrer) and SLSA
//! provenance ([`provenance`]: the in-toto statement, its DSSE envelope, the `.att`
//! layer and referrer). Where they go
//! (layouts, registries) is the pipeline's `build/sign` stage and the publish sinks.
//!
//! A [`Signer`] is what signs a payload. Only a key signs today; keyless signing
//! (a Fulcio certificate for an OIDC identity, the signature logged in Rekor) needs the
//! public Sigstore services and would be another variant, adding its certificate and
//! bundle annotations to each signature layer.

pub mod cosign;
mod error;
pub mod key;
pub mod provenance;

pub use error::SignError;
pub use key::{PublicKey, SigningKey};

use crate::oci::json::JsonBlob;

/// What signs the payloads of a run.
#[derive(Debug, Clone)]
pub enum Signer {
    /// A key the user holds (`--sign-key`).
    Key(SigningKey),
}

impl Signer {
    /// The signature layer for `docker_reference` naming manifest `digest`.
    pub fn sign(&self, docker_reference: &str, digest: &str) -> cosign::SigLayer {
        let payload = cosign::payload(docker_reference, digest);
        let signature = match self {
            Signer::Key(k) => k.sign(&payload.bytes),
        };
        cosign::layer(payload, &signature)
    }

    /// The DSSE envelope of `statement` (an in-toto statement's bytes).
    pub fn attest(&self, statement: &[u8]) -> JsonBlob {
        let pae = provenance::pae(provenance::PAYLOAD_TYPE, statement);
        let signature = match self {
            Signer::Key(k) => k.sign(&pae),
        };
        provenance::envelope(statement, &signature)
    }
}

#[cfg(test)]
mod tests;

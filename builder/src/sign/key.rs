//! Signing keys: ECDSA P-256 in PKCS#8 (or SEC1) PEM, and cosign's encrypted key
//! (`ENCRYPTED SIGSTORE PRIVATE KEY`, older `ENCRYPTED COSIGN PRIVATE KEY`): a PEM
//! block around JSON holding scrypt's parameters and salt, a NaCl secretbox nonce, and
//! the secretbox (XSalsa20-Poly1305) of the key's PKCS#8 DER. Public keys are PKIX
//! (`PUBLIC KEY`) PEM, as cosign writes `cosign.pub`. Pure, but for [`random`].

use std::path::Path;

use base64::Engine as _;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::der::pem::{self, LineEnding};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, ObjectIdentifier};
use serde::{Deserialize, Serialize};

use super::SignError;

/// The PEM label `sparkimg keygen` and cosign write.
pub const SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The label of keys older cosign versions wrote (same contents).
pub const COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const P256: &str = "1.2.840.10045.3.1.7";

/// An ECDSA P-256 private key.
#[derive(Clone)]
pub struct SigningKey(p256::ecdsa::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(P-256, public {})", self.public_pem().trim())
    }
}

impl SigningKey {
    /// A key from 32 secret bytes; `None` when they are not a valid scalar.
    pub fn from_bytes(secret: &[u8; 32]) -> Option<SigningKey> {
        p256::ecdsa::SigningKey::from_slice(secret)
            .ok()
            .map(SigningKey)
    }

    /// A fresh key from the system's random generator.
    pub fn generate() -> Result<SigningKey, SignError> {
        loop {
            let mut secret = [0u8; 32];
            random(&mut secret)?;
            if let Some(k) = SigningKey::from_bytes(&secret) {
                return Ok(k);
            }
        }
    }

    /// The ASN.1 DER ECDSA signature of SHA-256(`payload`), with RFC 6979's
    /// deterministic nonce: the same key and payload give the same bytes.
    pub fn sign(&self, payload: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = self.0.sign(payload);
        sig.to_der().as_bytes().to_vec()
    }

    /// The public key as PKIX PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_pem(&self) -> String {
        self.0
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// The private key's PKCS#8 DER.
    fn pkcs8_der(&self) -> Vec<u8> {
        self.0
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default()
    }
}

/// An ECDSA P-256 public key (`verify --key`).
#[derive(Debug, Clone)]
pub struct PublicKey(p256::ecdsa::VerifyingKey);

impl PublicKey {
    /// Reads PKIX PEM (`cosign.pub`, `keygen`'s PREFIX.pub); `path` is for messages.
    pub fn read(path: &Path, text: &[u8]) -> Result<PublicKey, SignError> {
        use p256::pkcs8::DecodePublicKey as _;
        let text = std::str::from_utf8(text).map_err(|_| SignError::NotAPublicKey {
            path: path.to_path_buf(),
            reason: "it is not text".into(),
        })?;
        p256::ecdsa::VerifyingKey::from_public_key_pem(text)
            .map(PublicKey)
            .map_err(|e| SignError::NotAPublicKey {
                path: path.to_path_buf(),
                reason: format!("not an ECDSA P-256 `PUBLIC KEY` PEM ({e})"),
            })
    }

    /// Whether `der` is this key's signature of SHA-256(`message`).
    pub fn verifies(&self, message: &[u8], der: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        p256::ecdsa::Signature::from_der(der).is_ok_and(|s| self.0.verify(message, &s).is_ok())
    }
}

/// Fills `buf` from the operating system's generator (aws-lc-rs, the one crypto library).
pub fn random(buf: &mut [u8]) -> Result<(), SignError> {
    use aws_lc_rs::rand::SecureRandom;
    aws_lc_rs::rand::SystemRandom::new()
        .fill(buf)
        .map_err(|_| SignError::Random)
}

/// scrypt's cost parameters, as go-securesystemslib names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScryptParams {
    #[serde(rename = "N")]
    pub n: u64,
    pub r: u32,
    pub p: u32,
}

/// What `keygen` writes (go-securesystemslib's "standard" strength, cosign's default).
pub const STANDARD: ScryptParams = ScryptParams {
    n: 1 << 16,
    r: 8,
    p: 1,
};
/// The parameter sets cosign reads (legacy 2^15, standard 2^16, OWASP 2^17); any other
/// is refused, so a crafted file cannot make scrypt take gigabytes.
const ACCEPTED: [ScryptParams; 3] = [
    ScryptParams {
        n: 1 << 15,
        r: 8,
        p: 1,
    },
    STANDARD,
    ScryptParams {
        n: 1 << 17,
        r: 8,
        p: 1,
    },
];

#[derive(Debug, Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// The JSON inside cosign's PEM block (byte fields in standard base64, as Go's
/// `encoding/json` writes `[]byte`).
#[derive(Debug, Serialize, Deserialize)]
struct Encrypted {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn box_key(pass: &[u8], salt: &[u8], p: ScryptParams) -> Option<[u8; 32]> {
    let log_n = u8::try_from(p.n.trailing_zeros()).ok()?;
    let params = scrypt::Params::new(log_n, p.r, p.p, 32).ok()?;
    let mut key = [0u8; 32];
    scrypt::scrypt(pass, salt, &params, &mut key).ok()?;
    Some(key)
}

/// `key` in cosign's encrypted format under `pass` with `salt` (32 bytes) and `nonce`
/// (24 bytes): the PEM text of `cosign.key`.
pub fn encrypt(key: &SigningKey, pass: &[u8], salt: &[u8; 32], nonce: &[u8; 24]) -> String {
    let k = box_key(pass, salt, STANDARD).unwrap_or_default();
    let sealed = XSalsa20Poly1305::new(&k.into())
        .encrypt(nonce.into(), key.pkcs8_der().as_slice())
        .unwrap_or_default();
    let doc = Encrypted {
        kdf: Kdf {
            name: "scrypt".into(),
            params: STANDARD,
            salt: b64(salt),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: b64(nonce),
        },
        ciphertext: b64(&sealed),
    };
    let json = serde_json::to_vec(&doc).unwrap_or_default();
    pem::encode_string(SIGSTORE_LABEL, LineEnding::LF, &json).unwrap_or_default()
}

/// Reads the private key in `text` (the file `path`, for messages). `pass` opens an
/// encrypted key; `None` (no passphrase given) tries the empty one, as cosign allows.
pub fn read(path: &Path, text: &[u8], pass: Option<&[u8]>) -> Result<SigningKey, SignError> {
    let not_a_key = |reason: String| SignError::NotAKey {
        path: path.to_path_buf(),
        reason,
    };
    let (label, der) =
        pem::decode_vec(text).map_err(|e| not_a_key(format!("no PEM block ({e})")))?;
    match label {
        "PRIVATE KEY" => pkcs8(path, &der),
        "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&der)
            .map(|k| SigningKey(k.into()))
            .map_err(|_| SignError::UnsupportedKey {
                path: path.to_path_buf(),
                found: "SEC1 EC key on another curve".into(),
            }),
        SIGSTORE_LABEL | COSIGN_LABEL => {
            let plain = decrypt(path, &der, pass)?;
            pkcs8(path, &plain)
        }
        "PUBLIC KEY" => Err(not_a_key("it is a public key".into())),
        "ENCRYPTED PRIVATE KEY" => Err(SignError::UnsupportedKey {
            path: path.to_path_buf(),
            found: "PKCS#8-encrypted (decrypt it with `openssl pkcs8`, or use cosign's format)"
                .into(),
        }),
        "RSA PRIVATE KEY" => Err(SignError::UnsupportedKey {
            path: path.to_path_buf(),
            found: "RSA".into(),
        }),
        other => Err(not_a_key(format!("its PEM block is `{other}`"))),
    }
}

/// A PKCS#8 DER key: ECDSA P-256, or the key type it is in the refusal.
fn pkcs8(path: &Path, der: &[u8]) -> Result<SigningKey, SignError> {
    let info = p256::pkcs8::PrivateKeyInfo::try_from(der).map_err(|e| SignError::NotAKey {
        path: path.to_path_buf(),
        reason: format!("not PKCS#8 ({e})"),
    })?;
    let unsupported = |found: String| SignError::UnsupportedKey {
        path: path.to_path_buf(),
        found,
    };
    let alg = info.algorithm.oid.to_string();
    if alg != EC_PUBLIC_KEY {
        return Err(unsupported(key_type(&alg)));
    }
    let curve = info
        .algorithm
        .parameters_oid()
        .map(|o: ObjectIdentifier| o.to_string())
        .unwrap_or_default();
    if curve != P256 {
        return Err(unsupported(format!("ECDSA {}", curve_name(&curve))));
    }
    p256::SecretKey::from_pkcs8_der(der)
        .map(|k| SigningKey(k.into()))
        .map_err(|e| SignError::NotAKey {
            path: path.to_path_buf(),
            reason: format!("a broken P-256 key ({e})"),
        })
}

fn key_type(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.1" => "RSA".into(),
        "1.3.101.112" => "Ed25519".into(),
        "1.3.101.113" => "Ed448".into(),
        "1.2.840.10040.4.1" => "DSA".into(),
        o => format!("algorithm {o}"),
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.3.132.0.34" => "P-384".into(),
        "1.3.132.0.35" => "P-521".into(),
        "1.3.132.0.10" => "secp256k1".into(),
        o => format!("curve {o}"),
    }
}

/// Opens cosign's JSON `doc` (the PEM block's bytes) with `pass`: the PKCS#8 DER.
fn decrypt(path: &Path, doc: &[u8], pass: Option<&[u8]>) -> Result<Vec<u8>, SignError> {
    let bad = |reason: String| SignError::BadEncryptedKey {
        path: path.to_path_buf(),
        reason,
    };
    let e: Encrypted = serde_json::from_slice(doc).map_err(|e| bad(format!("its JSON: {e}")))?;
    if e.kdf.name != "scrypt" || e.cipher.name != "nacl/secretbox" {
        return Err(bad(format!(
            "kdf {} and cipher {} (only scrypt and nacl/secretbox are known)",
            e.kdf.name, e.cipher.name
        )));
    }
    if !ACCEPTED.contains(&e.kdf.params) {
        return Err(bad(format!(
            "unsupported scrypt parameters {:?}",
            e.kdf.params
        )));
    }
    let unb64 = |what: &str, s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|err| bad(format!("its {what}: {err}")))
    };
    let salt = unb64("salt", &e.kdf.salt)?;
    let nonce: [u8; 24] = unb64("nonce", &e.cipher.nonce)?
        .try_into()
        .map_err(|_| bad("its nonce is not 24 bytes".into()))?;
    let sealed = unb64("ciphertext", &e.ciphertext)?;
    let key = box_key(pass.unwrap_or_default(), &salt, e.kdf.params)
        .ok_or_else(|| bad("scrypt refused its parameters".into()))?;
    XSalsa20Poly1305::new(&key.into())
        .decrypt(&nonce.into(), sealed.as_slice())
        .map_err(|_| SignError::WrongPassphrase {
            path: path.to_path_buf(),
            given: pass.is_some(),
        })
}

/// A new key pair for `keygen`: (the private key in cosign's format, the public PEM).
pub fn generate_pair(pass: &[u8]) -> Result<(String, String), SignError> {
    let key = SigningKey::generate()?;
    let (mut salt, mut nonce) = ([0u8; 32], [0u8; 24]);
    random(&mut salt)?;
    random(&mut nonce)?;
    Ok((encrypt(&key, pass, &salt, &nonce), key.public_pem()))
}

//! The content digest of OCI blobs: `sha256:` and 64 lowercase hex digits, the only
//! algorithm sparkimg produces or verifies. Built here and nowhere else.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::digest::{Output, Sha256};

use super::OciError;

/// A validated `sha256:<hex>` digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(String);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: impl AsRef<[u8]>) -> Digest {
        Digest::from_sha256(Sha256::digest(bytes))
    }

    /// The digest a finished SHA-256 hasher produced.
    pub fn from_sha256(out: Output) -> Digest {
        Digest(format!("sha256:{}", hex::encode(out)))
    }

    /// A digest as written in a manifest, index or reference.
    pub fn parse(s: &str) -> Result<Digest, OciError> {
        if Digest::is_valid(s) {
            Ok(Digest(s.to_string()))
        } else {
            Err(OciError::InvalidDigest(s.to_string()))
        }
    }

    /// Whether `s` is `sha256:` and 64 lowercase hex digits.
    pub fn is_valid(s: &str) -> bool {
        s.strip_prefix("sha256:").is_some_and(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hex part, as blob file names and cache keys use it.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// Where an OCI layout rooted at `root` keeps this blob.
    pub fn blob_path(&self, root: &Path) -> PathBuf {
        blob_path(root, &self.0)
    }
}

/// Where an OCI layout rooted at `root` keeps the blob of digest `d` (as manifests
/// carry it: `sha256:<hex>`; a bare hex is taken as SHA-256).
pub fn blob_path(root: &Path, d: &str) -> PathBuf {
    let (alg, hex) = d.split_once(':').unwrap_or(("sha256", d));
    root.join("blobs").join(alg).join(hex)
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Digest {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Digest {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Digest {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_parsed_and_placed() {
        let d = Digest::of(b"{}");
        assert_eq!(
            d.as_str(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        assert_eq!(
            d.blob_path(Path::new("/l")),
            Path::new("/l/blobs/sha256").join(d.hex())
        );
        for bad in [
            "sha256:ABC",
            "sha512:00",
            "",
            &format!("sha256:{}", "g".repeat(64)),
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }
}

//! The one hash stack of the builder: SHA-1, SHA-256 and SHA-512 on aws-lc-rs, the
//! same library rustls uses for TLS here. Its assembly uses the CPU's SHA extensions;
//! on this project's machine its SHA-1 is ~1.5× RustCrypto's, and every jar of an
//! image is hashed with both SHA-1 and SHA-256 for the SBOM while its layer is built,
//! so the build's CPU time follows these functions.
//!
//! The types keep RustCrypto's names and method shapes (`new`, `update`, `finalize`,
//! `digest`) so call sites read as before.

use std::io::Read;

use aws_lc_rs::digest::{self, Algorithm, Context};

/// A finished digest: its bytes through `AsRef<[u8]>` (e.g. for `hex::encode`).
pub type Output = digest::Digest;

macro_rules! hasher {
    ($(#[$doc:meta])* $name:ident, $algorithm:expr) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Context);

        impl $name {
            const ALGORITHM: &'static Algorithm = $algorithm;

            pub fn new() -> Self {
                $name(Context::new(Self::ALGORITHM))
            }

            pub fn update(&mut self, data: impl AsRef<[u8]>) {
                self.0.update(data.as_ref());
            }

            pub fn finalize(self) -> Output {
                self.0.finish()
            }

            /// The digest of `data` in one call.
            pub fn digest(data: impl AsRef<[u8]>) -> Output {
                digest::digest(Self::ALGORITHM, data.as_ref())
            }
        }

        /// Hashes what is written to it (for `io::copy`).
        impl std::io::Write for $name {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.update(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}

hasher!(
    /// SHA-1: only for the checksums others publish (Maven repositories, SBOM jar
    /// checksums scanners match Maven Central by), never to identify our own content.
    Sha1,
    &digest::SHA1_FOR_LEGACY_USE_ONLY
);
hasher!(
    /// SHA-256: OCI digests, caches, checksums.
    Sha256,
    &digest::SHA256
);
hasher!(
    /// SHA-512: Apache's release checksums.
    Sha512,
    &digest::SHA512
);

/// MD5 in lowercase hex: only the hashes dpkg's status records for conffiles (its
/// format, not a choice), never to identify or verify anything.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

/// (sha1, sha256) of some bytes (a jar's, for the SBOM), lowercase hex.
pub type Hashes = (String, String);

/// A reader that hashes what passes through it: the layer build reads each jar through
/// one, so the SBOM needs no second pass over the jar's bytes.
pub struct HashingReader<R> {
    inner: R,
    sha1: Sha1,
    sha256: Sha256,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            sha1: Sha1::new(),
            sha256: Sha256::new(),
        }
    }

    /// The hashes of everything read so far.
    pub fn finish(self) -> Hashes {
        (
            hex::encode(self.sha1.finalize()),
            hex::encode(self.sha256.finalize()),
        )
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha1.update(&buf[..n]);
        self.sha256.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers (FIPS 180 examples), also across split updates.
    #[test]
    fn known_answers_whole_and_in_pieces() {
        let abc = b"abc";
        let cases: [(&str, Output, Output); 3] = [
            (
                "a9993e364706816aba3e25717850c26c9cd0d89d",
                Sha1::digest(abc),
                {
                    let mut h = Sha1::new();
                    h.update(b"a");
                    h.update(b"bc");
                    h.finalize()
                },
            ),
            (
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                Sha256::digest(abc),
                {
                    let mut h = Sha256::new();
                    h.update(b"ab");
                    h.clone().finalize();
                    h.update(b"c");
                    h.finalize()
                },
            ),
            (
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
                Sha512::digest(abc),
                {
                    let mut h = Sha512::default();
                    h.update(abc);
                    h.finalize()
                },
            ),
        ];
        for (want, whole, pieces) in cases {
            assert_eq!(hex::encode(whole), want);
            assert_eq!(hex::encode(pieces), want);
        }
    }
}

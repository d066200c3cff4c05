//! Effects: the suites' `InRelease` (signature checked), their `Packages` indexes and
//! the `.deb`s, on the shared HTTP client and retry policy, each checked against its
//! SHA256 before use. Indexes and packages are cached by that digest under
//! `<cache>/apt/sha256/`, so a rebuild downloads only the `InRelease` files.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::digest::Sha256;

use super::packages::{self, Package};
use super::release::{self, Release};
use super::sources::{SignedBy, Source};
use super::AptError;
use crate::http::download::Http;
use crate::http::RetryPolicy;
use crate::layer::basefs::BaseFs;

/// InRelease files are a few hundred KB; Packages indexes tens of MB; a package can be
/// large (compilers, R), so its limit is the size its index gives.
const INRELEASE_LIMIT: u64 = 16 << 20;

pub struct Fetcher {
    http: Http,
    /// `<cache>/apt/sha256`; `None` with `--no-cache`.
    dir: Option<PathBuf>,
    pub insecure_skip_verify: bool,
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

impl Fetcher {
    pub fn new(cache_root: Option<&Path>, insecure_skip_verify: bool) -> Result<Self, AptError> {
        Ok(Fetcher {
            http: Http::new(RetryPolicy::default())?,
            dir: cache_root.map(|r| r.join("apt").join("sha256")),
            insecure_skip_verify,
        })
    }

    /// The bytes of `url`, which must hash to `sha256` (from a verified list): from the
    /// cache, else downloaded, checked, and cached.
    pub fn verified(&self, url: &str, sha256: &str, size: u64) -> Result<Vec<u8>, AptError> {
        let cached = self.dir.as_ref().map(|d| d.join(sha256));
        if let Some(bytes) = cached.as_deref().and_then(|p| std::fs::read(p).ok()) {
            // Stored only under its verified digest; re-hashing guards a damaged disk.
            if sha256_hex(&bytes) == sha256 {
                return Ok(bytes);
            }
        }
        let bytes = self
            .http
            .get_bytes(url, size.saturating_add(1))?
            .ok_or_else(|| AptError::NotFound { url: url.into() })?;
        let actual = sha256_hex(&bytes);
        if actual != sha256 {
            return Err(AptError::HashMismatch {
                url: url.into(),
                expected: sha256.into(),
                actual,
            });
        }
        if let Some(path) = cached {
            store(&path, &bytes).map_err(|source| AptError::Io { path, source })?;
        }
        Ok(bytes)
    }

    /// The suite's `Release` text, its signature checked against the keys `src`
    /// allows (skipped for `trusted=yes` sources and with `--insecure-skip-verify`).
    pub fn release(&self, src: &Source, base: &BaseFs) -> Result<Release, AptError> {
        let url = format!("{}/dists/{}/InRelease", src.uri, src.suite);
        let text = self
            .http
            .get_text(&url, INRELEASE_LIMIT)?
            .ok_or_else(|| AptError::Unsigned { url: url.clone() })?;
        let skip = self.insecure_skip_verify || src.trusted;
        let keys = release::read_keys(&keyrings(src, base));
        let signed = match release::verify(&text, &keys) {
            Ok(t) => t,
            Err(_) if skip => unsigned_text(&text),
            Err(reason) if text.starts_with("-----BEGIN PGP SIGNED MESSAGE") => {
                return Err(AptError::Signature { url, reason })
            }
            Err(_) => return Err(AptError::Unsigned { url }),
        };
        Ok(Release::parse(&signed))
    }

    /// Every package of the source's components for `arch`.
    pub fn packages(
        &self,
        src: &Source,
        index: usize,
        rel: &Release,
        arch: &str,
    ) -> Result<Vec<Package>, AptError> {
        let mut out = Vec::new();
        for comp in &src.components {
            let Some(f) = rel.packages(comp, arch) else {
                continue;
            };
            let url = format!("{}/dists/{}/{}", src.uri, src.suite, f.path);
            let raw = self.verified(&url, &f.sha256, f.size)?;
            let text = decompress_index(&f.path, &raw).map_err(|reason| AptError::Format {
                what: url.clone(),
                reason,
            })?;
            out.extend(
                packages::parse_index(&text, arch, index)
                    .map_err(|reason| AptError::Format { what: url, reason })?,
            );
        }
        Ok(out)
    }
}

/// The text of an InRelease whose signature is not checked (or a plain Release).
fn unsigned_text(text: &str) -> String {
    match pgp::composed::CleartextSignedMessage::from_string(text) {
        Ok((m, _)) => m.signed_text(),
        Err(_) => text.to_string(),
    }
}

fn decompress_index(path: &str, raw: &[u8]) -> Result<String, String> {
    let mut out = Vec::new();
    if path.ends_with(".xz") {
        lzma_rs::xz_decompress(&mut BufReader::new(raw), &mut out).map_err(|e| e.to_string())?;
    } else if path.ends_with(".gz") {
        flate2::read::GzDecoder::new(raw)
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
    } else {
        out = raw.to_vec();
    }
    String::from_utf8(out).map_err(|_| "not UTF-8 text".to_string())
}

/// The key files a source may be signed with, read from the base.
fn keyrings(src: &Source, base: &BaseFs) -> Vec<Vec<u8>> {
    match &src.signed_by {
        SignedBy::Inline(k) => vec![k.trim().as_bytes().to_vec()],
        SignedBy::Files(files) => files
            .iter()
            .filter_map(|f| base.read(f.trim_start_matches('/')).map(<[u8]>::to_vec))
            .collect(),
        SignedBy::Global => base
            .nodes
            .keys()
            .filter(|k| {
                *k == "etc/apt/trusted.gpg"
                    || (k.starts_with("etc/apt/trusted.gpg.d/")
                        && (k.ends_with(".gpg") || k.ends_with(".asc")))
            })
            .filter_map(|k| base.read(k).map(<[u8]>::to_vec))
            .collect(),
    }
}

fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

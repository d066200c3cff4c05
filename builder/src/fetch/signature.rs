//! `--verify-signature`: check `<file>.asc` against the keys in the mirror's `KEYS`.
//! Behind the `signatures` feature because the OpenPGP stack is a large build.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};

use super::error::FetchError;
use super::urls;
use crate::http::download::Http;

const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
const END: &str = "-----END PGP PUBLIC KEY BLOCK-----";

pub(crate) fn verify(
    http: &Http,
    url: &str,
    keys_url: Option<&str>,
    file: &Path,
) -> Result<(), FetchError> {
    let asc_url = urls::sidecar(url, "asc");
    let fail = |reason: String| FetchError::Signature {
        url: asc_url.clone(),
        reason,
    };
    let keys_url = keys_url.ok_or_else(|| {
        fail("no KEYS location is known for a --dist URL; verify it yourself".into())
    })?;
    let asc = http
        .get_text(&asc_url, 1 << 20)?
        .ok_or_else(|| fail("the mirror has no .asc signature".into()))?;
    let keys_text = http
        .get_text(keys_url, 16 << 20)?
        .ok_or_else(|| fail(format!("{keys_url} not found")))?;
    let (sig, _) = DetachedSignature::from_string(&asc)
        .map_err(|e| fail(format!("cannot parse the signature: {e}")))?;

    // Apache's KEYS interleaves `gpg --list-sigs` text with armored blocks: parse each
    // block on its own and skip any the library cannot read (old v3 keys exist).
    let mut keys = Vec::new();
    let mut rest = keys_text.as_str();
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let block = &rest[start..start + len + END.len()];
        if let Ok((k, _)) = SignedPublicKey::from_string(block) {
            keys.push(k);
        }
        rest = &rest[start + len + END.len()..];
    }
    if keys.is_empty() {
        return Err(fail(format!("no usable public keys in {keys_url}")));
    }
    let open = || {
        File::open(file)
            .map(BufReader::new)
            .map_err(|e| FetchError::io(format!("reading {}", file.display()), e))
    };
    for key in &keys {
        if sig.signature.verify(&key.primary_key, open()?).is_ok() {
            return Ok(());
        }
        for sub in &key.public_subkeys {
            if sig.signature.verify(&sub.key, open()?).is_ok() {
                return Ok(());
            }
        }
    }
    Err(fail(format!(
        "no key in {keys_url} made this signature: the file or the mirror may have been \
         tampered with; compare with https://downloads.apache.org/spark/KEYS"
    )))
}

//! Pure: a suite's `InRelease`: its OpenPGP clear-signature checked against the keys
//! the base trusts, then the `SHA256` list that every index is checked against.

use std::collections::BTreeMap;

use pgp::composed::{CleartextSignedMessage, PublicOrSecret, SignedPublicKey};

use super::control;

/// What a `Release` file says about its indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    /// Path under `dists/<suite>/` → (sha256 hex, size).
    pub sha256: BTreeMap<String, (String, u64)>,
}

/// One index to download: path under `dists/<suite>/`, its digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

impl Release {
    pub fn parse(text: &str) -> Release {
        let mut sha256 = BTreeMap::new();
        let stanzas = control::parse(text);
        let list = stanzas.first().and_then(|s| s.get("SHA256")).unwrap_or("");
        for line in list.lines() {
            let mut w = line.split_whitespace();
            if let (Some(h), Some(size), Some(path)) = (w.next(), w.next(), w.next()) {
                if let Ok(size) = size.parse() {
                    sha256.insert(path.to_string(), (h.to_ascii_lowercase(), size));
                }
            }
        }
        Release { sha256 }
    }

    /// The `Packages` index of `component` for `arch`, compressed if the suite offers
    /// it (xz, then gzip), else plain.
    pub fn packages(&self, component: &str, arch: &str) -> Option<IndexFile> {
        ["Packages.xz", "Packages.gz", "Packages"]
            .iter()
            .find_map(|name| {
                let path = format!("{component}/binary-{arch}/{name}");
                let (sha256, size) = self.sha256.get(&path)?;
                Some(IndexFile {
                    path,
                    sha256: sha256.clone(),
                    size: *size,
                })
            })
    }
}

/// Every public key in keyring files (binary `.gpg` keyrings or armored `.asc`), as
/// apt reads `trusted.gpg.d/` and `Signed-By`. Keys the library cannot read are
/// skipped, as apt (gpgv) skips them.
pub fn read_keys(keyrings: &[Vec<u8>]) -> Vec<SignedPublicKey> {
    let mut keys = Vec::new();
    for bytes in keyrings {
        let Ok((iter, _)) = PublicOrSecret::from_reader_many(&bytes[..]) else {
            continue;
        };
        for k in iter.flatten() {
            match k {
                PublicOrSecret::Public(k) => keys.push(k),
                PublicOrSecret::Secret(k) => keys.push(k.signed_public_key()),
            }
        }
    }
    keys
}

/// Checks the clear-signed `InRelease` against `keys`; the signed text on success, or
/// why not.
pub fn verify(inrelease: &str, keys: &[SignedPublicKey]) -> Result<String, String> {
    let (msg, _) = CleartextSignedMessage::from_string(inrelease)
        .map_err(|e| format!("not an OpenPGP clear-signed file: {e}"))?;
    if keys.is_empty() {
        return Err("the base trusts no keys for this source".into());
    }
    for key in keys {
        let good = msg.verify(&key.primary_key).is_ok()
            || key
                .public_subkeys
                .iter()
                .any(|s| msg.verify(&s.key).is_ok());
        if good {
            return Ok(msg.signed_text());
        }
    }
    Err("no key the base trusts made its signature".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &str = "Origin: Debian\nSuite: stable\nCodename: bookworm\nArchitectures: all amd64 arm64\nComponents: main contrib\nMD5Sum:\n 0123 10 main/binary-amd64/Packages\nSHA256:\n AA11 1000 main/binary-amd64/Packages\n bb22 200 main/binary-amd64/Packages.xz\n cc33 300 main/binary-amd64/Packages.gz\n dd44 400 contrib/binary-amd64/Packages.gz\n ee55 500 main/binary-arm64/Packages\n";

    #[test]
    fn picks_the_compressed_index_and_its_hash() {
        let r = Release::parse(RELEASE);
        let main = r.packages("main", "amd64").unwrap();
        assert_eq!(main.path, "main/binary-amd64/Packages.xz");
        assert_eq!((main.sha256.as_str(), main.size), ("bb22", 200));
        assert_eq!(
            r.packages("contrib", "amd64").unwrap().path,
            "contrib/binary-amd64/Packages.gz"
        );
        let arm = r.packages("main", "arm64").unwrap();
        assert_eq!(
            (arm.path.as_str(), arm.sha256.as_str()),
            ("main/binary-arm64/Packages", "ee55")
        );
        assert!(r.packages("non-free", "amd64").is_none());
        // Upper-case hex is normalised; MD5Sum is ignored.
        assert_eq!(r.sha256["main/binary-amd64/Packages"].0, "aa11");
    }

    /// A key whose signing is done by a subkey, as many third-party repositories do.
    fn subkey_signer() -> pgp::composed::SignedSecretKey {
        use pgp::composed::{KeyType, SecretKeyParamsBuilder, SubkeyParamsBuilder};
        let mut sub = SubkeyParamsBuilder::default();
        sub.key_type(KeyType::Ed25519Legacy).can_sign(true);
        let mut params = SecretKeyParamsBuilder::default();
        params
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(false)
            .primary_user_id("repo <repo@example.invalid>".into())
            .subkeys(vec![sub.build().unwrap()]);
        let mut rng = rand::thread_rng();
        let key = params.build().unwrap().generate(&mut rng).unwrap();
        key.sign(&mut rng, &pgp::types::Password::from("")).unwrap()
    }

    #[test]
    fn a_subkey_signature_verifies_and_an_edit_does_not() {
        use pgp::composed::ArmorOptions;
        let key = subkey_signer();
        let signed = CleartextSignedMessage::sign(
            rand::thread_rng(),
            RELEASE,
            &key.secret_subkeys[0].key,
            &pgp::types::Password::from(""),
        )
        .unwrap()
        .to_armored_string(ArmorOptions::default())
        .unwrap();
        let armored = SignedPublicKey::from(key)
            .to_armored_string(ArmorOptions::default())
            .unwrap();
        let keys = read_keys(&[armored.into_bytes()]);
        assert_eq!(keys.len(), 1);
        let text = verify(&signed, &keys).unwrap();
        assert_eq!(Release::parse(&text), Release::parse(RELEASE));
        let edited = signed.replace("bb22 200", "bb23 200");
        assert!(verify(&edited, &keys)
            .unwrap_err()
            .contains("no key the base trusts"));
    }

    #[test]
    fn unsigned_or_keyless_is_refused() {
        assert!(verify(RELEASE, &[]).unwrap_err().contains("not an OpenPGP"));
        assert!(read_keys(&[b"not a key".to_vec()]).is_empty());
    }
}

use std::path::Path;

use p256::ecdsa::signature::Verifier as _;
use p256::pkcs8::DecodePublicKey as _;
use serde_json::{json, Value};

use super::cosign::{self, attached_digest, merged_layers, sig_tag};
use super::key::{self, SigningKey};
use super::{SignError, Signer};

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32]).unwrap()
}

fn verifies(public_pem: &str, payload: &[u8], der: &[u8]) -> bool {
    let vk = p256::ecdsa::VerifyingKey::from_public_key_pem(public_pem).unwrap();
    let sig = p256::ecdsa::Signature::from_der(der).unwrap();
    vk.verify(payload, &sig).is_ok()
}

#[test]
fn signatures_are_deterministic_and_verify_with_the_public_key() {
    let k = key(7);
    let a = k.sign(b"payload");
    assert_eq!(a, k.sign(b"payload"), "RFC 6979: reruns are byte-identical");
    assert!(verifies(&k.public_pem(), b"payload", &a));
    assert!(!verifies(&k.public_pem(), b"payloaD", &a));
    assert!(!verifies(&key(8).public_pem(), b"payload", &a));
    assert!(k.public_pem().starts_with("-----BEGIN PUBLIC KEY-----\n"));
}

#[test]
fn the_encrypted_format_round_trips_and_refuses_a_wrong_passphrase() {
    let k = key(3);
    let p = Path::new("cosign.key");
    let text = key::encrypt(&k, b"s3cret", &[1; 32], &[2; 24]);
    assert!(text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    let read = key::read(p, text.as_bytes(), Some(b"s3cret")).unwrap();
    assert_eq!(read.public_pem(), k.public_pem());
    let e = key::read(p, text.as_bytes(), Some(b"wrong")).unwrap_err();
    assert!(
        matches!(e, SignError::WrongPassphrase { given: true, .. }),
        "{e}"
    );
    let e = key::read(p, text.as_bytes(), None).unwrap_err();
    assert!(e.to_string().contains("none given"), "{e}");
    // The empty passphrase is a passphrase (cosign allows it); none given means it.
    let empty = key::encrypt(&k, b"", &[1; 32], &[2; 24]);
    assert!(key::read(p, empty.as_bytes(), None).is_ok());
    // The older label holds the same format.
    let old = text.replace("SIGSTORE", "COSIGN");
    assert!(key::read(p, old.as_bytes(), Some(b"s3cret")).is_ok());
}

#[test]
fn crafted_parameters_and_other_keys_are_refused_by_name() {
    use p256::pkcs8::der::pem::{self, LineEnding};
    let p = Path::new("k.pem");
    let text = key::encrypt(&key(3), b"x", &[1; 32], &[2; 24]);
    let (_, doc) = pem::decode_vec(text.as_bytes()).unwrap();
    let mut v: Value = serde_json::from_slice(&doc).unwrap();
    v["kdf"]["params"]["N"] = json!(1u64 << 30);
    let crafted = pem::encode_string(
        key::SIGSTORE_LABEL,
        LineEnding::LF,
        &serde_json::to_vec(&v).unwrap(),
    )
    .unwrap();
    let e = key::read(p, crafted.as_bytes(), Some(b"x")).unwrap_err();
    assert!(matches!(e, SignError::BadEncryptedKey { .. }), "{e}");
    let public = key(3).public_pem();
    let e = key::read(p, public.as_bytes(), None).unwrap_err();
    assert!(e.to_string().contains("public key"), "{e}");
    let e = key::read(p, b"not pem", None).unwrap_err();
    assert!(matches!(e, SignError::NotAKey { .. }), "{e}");
    // PKCS#8 of an Ed25519 key, and an EC key on P-384 (the curve is read first).
    let mut ed = hex::decode("302e020100300506032b657004220420").unwrap();
    ed.extend([9u8; 32]);
    let p384 = hex::decode("301a020100301006072a8648ce3d020106052b8104002204033001ff").unwrap();
    for (der, want) in [(ed, "Ed25519"), (p384, "ECDSA P-384")] {
        let text = pem::encode_string("PRIVATE KEY", LineEnding::LF, &der).unwrap();
        let e = key::read(p, text.as_bytes(), None).unwrap_err();
        assert!(
            matches!(&e, SignError::UnsupportedKey { found, .. } if found == want),
            "{e}"
        );
    }
}

#[test]
fn plain_pkcs8_keys_sign() {
    use p256::pkcs8::EncodePrivateKey as _;
    let secret = p256::SecretKey::from_slice(&[5; 32]).unwrap();
    let pem = secret.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
    let k = key::read(Path::new("k"), pem.as_bytes(), None).unwrap();
    assert_eq!(k.public_pem(), key(5).public_pem());
}

const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn the_payload_and_layer_are_cosigns() {
    let l = Signer::Key(key(1)).sign("reg.example/x/spark:1", D);
    assert_eq!(
        String::from_utf8(l.payload.bytes.clone()).unwrap(),
        format!(
            "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"reg.example/x/spark:1\"}},\
             \"image\":{{\"docker-manifest-digest\":\"{D}\"}},\"type\":\"cosign container image \
             signature\"}},\"optional\":null}}"
        )
    );
    assert_eq!(
        cosign::claims(&l.payload.bytes),
        Some(("reg.example/x/spark:1".into(), D.into()))
    );
    assert_eq!(l.descriptor["mediaType"], cosign::PAYLOAD_TYPE);
    let sig = l.descriptor["annotations"][cosign::SIGNATURE_ANNOTATION]
        .as_str()
        .unwrap();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .unwrap();
    assert!(verifies(&key(1).public_pem(), &l.payload.bytes, &der));
    assert_eq!(sig_tag(D), format!("sha256-{}.sig", &D[7..]));
    assert_eq!(attached_digest(&sig_tag(D)).as_deref(), Some(D));
    assert_eq!(attached_digest("sha256-12.sig"), None);
    assert_eq!(attached_digest("latest"), None);
}

#[test]
fn a_new_signature_is_appended_to_the_sig_manifest_once() {
    let a = Signer::Key(key(1)).sign("r/x:1", D).descriptor;
    let b = Signer::Key(key(2)).sign("r/x:1", D).descriptor;
    let first = merged_layers(None, std::slice::from_ref(&a))
        .unwrap()
        .unwrap();
    let m = cosign::sig_manifest(&first);
    let v: Value = serde_json::from_slice(&m.manifest.bytes).unwrap();
    assert_eq!(v["config"]["digest"], m.config.digest.as_str());
    let c: Value = serde_json::from_slice(&m.config.bytes).unwrap();
    assert_eq!(c["rootfs"]["diff_ids"][0], a["digest"]);
    // The same signature again: nothing to write.
    assert_eq!(
        merged_layers(Some(&m.manifest.bytes), std::slice::from_ref(&a)).unwrap(),
        None
    );
    let both = merged_layers(Some(&m.manifest.bytes), std::slice::from_ref(&b))
        .unwrap()
        .unwrap();
    assert_eq!(both, vec![a, b]);
    assert!(merged_layers(Some(b"{\"manifests\":[]}"), &[]).is_err());
}

#[test]
fn the_referrer_names_its_subject() {
    let l = Signer::Key(key(1)).sign("r/x:1", D);
    let subject =
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": D, "size": 10});
    let r: Value = serde_json::from_slice(&cosign::referrer(&l, &subject).bytes).unwrap();
    assert_eq!(r["artifactType"], cosign::ARTIFACT_TYPE);
    assert_eq!(r["subject"], subject);
    assert_eq!(r["layers"][0], l.descriptor);
    assert_eq!(
        r["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
}

mod provenance {
    use super::*;
    use crate::oci::Digest;
    use crate::sign::provenance::{self as p, Dependency};
    use crate::sign::PublicKey;

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn deps() -> Vec<Dependency> {
        vec![
            Dependency::oci(
                "docker.io/library/eclipse-temurin:17-jre",
                &Digest::parse(D).unwrap(),
            ),
            Dependency {
                name: None,
                uri: Some("https://archive.apache.org/dist/spark/spark-3.5.1/x.tgz".into()),
                digest: vec![("sha512".into(), "ab".into())],
            },
        ]
    }

    #[test]
    fn the_statement_is_canonical_and_independent_of_dependency_order() {
        let ext = json!({"sparkVersion": "3.5.1", "platforms": ["linux/amd64"]});
        let a = p::predicate(p::BUILD_TYPE, ext.clone(), &deps(), "1.0.0");
        let mut rev = deps();
        rev.reverse();
        let b = p::predicate(p::BUILD_TYPE, ext, &rev, "1.0.0");
        assert_eq!(a, b);
        let digest = Digest::parse(D).unwrap();
        let s = p::statement("r.example/spark:3.5.1", &digest, &a);
        assert_eq!(s, p::statement("r.example/spark:3.5.1", &digest, &b));
        let v: Value = serde_json::from_slice(&s.bytes).unwrap();
        assert_eq!(v["_type"], p::STATEMENT_TYPE);
        assert_eq!(v["predicateType"], p::PREDICATE_TYPE);
        assert_eq!(v["subject"][0]["digest"]["sha256"], &D[7..]);
        let bd = &v["predicate"]["buildDefinition"];
        assert_eq!(bd["buildType"], p::BUILD_TYPE);
        assert_eq!(bd["resolvedDependencies"].as_array().unwrap().len(), 2);
        assert_eq!(v["predicate"]["runDetails"]["builder"]["id"], p::BUILDER_ID);
        assert_eq!(
            p::subjects(&s.bytes).unwrap(),
            (vec![D.to_string()], p::PREDICATE_TYPE.into())
        );
    }

    #[test]
    fn pae_follows_the_dsse_spec() {
        // The DSSE spec's own example: PAE("http://example.com/HelloWorld", "hello world").
        assert_eq!(
            p::pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn envelopes_are_deterministic_and_verify_over_pae_with_the_public_key_only() {
        let statement = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
        let signer = Signer::Key(key(5));
        let env = signer.attest(statement);
        assert_eq!(
            env,
            signer.attest(statement),
            "RFC 6979: reruns are byte-identical"
        );
        let opened = p::open(&env.bytes).unwrap();
        assert_eq!(opened.payload_type, p::PAYLOAD_TYPE);
        assert_eq!(opened.payload, statement.to_vec());
        let pae = p::pae(p::PAYLOAD_TYPE, statement);
        let ours = PublicKey::read(Path::new("k.pub"), key(5).public_pem().as_bytes()).unwrap();
        let other = PublicKey::read(Path::new("o.pub"), key(6).public_pem().as_bytes()).unwrap();
        assert!(ours.verifies(&pae, &opened.signatures[0]));
        assert!(
            !ours.verifies(statement, &opened.signatures[0]),
            "PAE, not the bare payload"
        );
        assert!(!other.verifies(&pae, &opened.signatures[0]));
        assert!(p::open(b"{}").is_err());
    }

    #[test]
    fn att_tags_layers_and_referrers_are_cosigns() {
        assert_eq!(p::att_tag(D), format!("sha256-{}.att", &D[7..]));
        assert_eq!(attached_digest(&p::att_tag(D)).as_deref(), Some(D));
        let env = Signer::Key(key(5)).attest(b"{}");
        let l = p::layer(&env);
        assert_eq!(l["mediaType"], p::ENVELOPE_TYPE);
        assert_eq!(l["annotations"]["predicateType"], p::PREDICATE_TYPE);
        let subject = json!({"mediaType": "m", "digest": D, "size": 1});
        let r: Value = serde_json::from_slice(&p::referrer(&l, &subject).bytes).unwrap();
        assert_eq!(r["artifactType"], p::ARTIFACT_TYPE);
        assert_eq!(r["subject"], subject);
        assert_eq!(r["layers"][0], l);
    }

    #[test]
    fn a_private_key_is_not_a_public_key() {
        let e = PublicKey::read(
            Path::new("cosign.key"),
            b"-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n",
        )
        .unwrap_err();
        assert!(matches!(e, SignError::NotAPublicKey { .. }), "{e}");
        assert!(e.hint().is_some());
    }
}

"""An independent implementation of cosign's encrypted key format, for tests/it/sign.rs.

Written from go-securesystemslib's `encrypted` package and cosign's `keys.go` as
documented facts (scrypt over the passphrase, NaCl secretbox of the PKCS#8 DER, JSON
with base64 fields, PEM label ENCRYPTED SIGSTORE PRIVATE KEY), with PyPI's
`cryptography` (keys, ECDSA) and `PyNaCl` (secretbox) and hashlib's scrypt.

  write KEY PUB PASS N    a new P-256 pair: KEY in cosign's format (scrypt N), PUB PKIX
  read KEY PASS PUB       decrypt KEY and check it is the private half of PUB
  verify PUB PAYLOAD SIG  ECDSA-SHA256 check of file PAYLOAD against base64 SIG
"""

import base64
import hashlib
import json
import os
import sys

import nacl.secret
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

LABEL = "ENCRYPTED SIGSTORE PRIVATE KEY"


def box_key(passphrase, salt, n, r, p):
    return hashlib.scrypt(passphrase, salt=salt, n=n, r=r, p=p, maxmem=1 << 28, dklen=32)


def pem(label, der):
    b = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b[i : i + 64] for i in range(0, len(b), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)


def unpem(text):
    lines = text.strip().splitlines()
    assert lines[0] == "-----BEGIN %s-----" % LABEL, lines[0]
    return base64.b64decode("".join(lines[1:-1]))


def public_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write(key_path, pub_path, passphrase, n):
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    salt, nonce = os.urandom(32), os.urandom(24)
    sealed = nacl.secret.SecretBox(box_key(passphrase, salt, n, 8, 1)).encrypt(der, nonce)
    doc = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": n, "r": 8, "p": 1},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed.ciphertext).decode(),
    }
    with open(key_path, "w") as f:
        f.write(pem(LABEL, json.dumps(doc).encode()))
    with open(pub_path, "wb") as f:
        f.write(public_pem(key))


def read(key_path, passphrase, pub_path):
    doc = json.loads(unpem(open(key_path).read()))
    assert doc["kdf"]["name"] == "scrypt" and doc["cipher"]["name"] == "nacl/secretbox", doc
    prm = doc["kdf"]["params"]
    salt = base64.b64decode(doc["kdf"]["salt"])
    box = nacl.secret.SecretBox(box_key(passphrase, salt, prm["N"], prm["r"], prm["p"]))
    der = box.decrypt(base64.b64decode(doc["ciphertext"]), base64.b64decode(doc["cipher"]["nonce"]))
    key = serialization.load_der_private_key(der, password=None)
    assert isinstance(key.curve, ec.SECP256R1), key.curve
    want = serialization.load_pem_public_key(open(pub_path, "rb").read())
    assert public_pem(key) == public_pem_of(want), "the key is not PUB's private half"
    print("ok")


def public_pem_of(pub):
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verify(pub_path, payload_path, sig_b64):
    pub = serialization.load_pem_public_key(open(pub_path, "rb").read())
    pub.verify(base64.b64decode(sig_b64), open(payload_path, "rb").read(), ec.ECDSA(hashes.SHA256()))
    print("ok")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "write":
        write(args[0], args[1], args[2].encode(), int(args[3]))
    elif cmd == "read":
        read(args[0], args[1].encode(), args[2])
    elif cmd == "verify":
        verify(args[0], args[1], args[2])
    else:
        sys.exit("unknown command " + cmd)

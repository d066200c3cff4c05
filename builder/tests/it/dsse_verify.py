"""The provenance oracle: a DSSE envelope checked with two independent verifiers given
the PEM public key, PyPI's securesystemslib (its DSSE Envelope over the spec's PAE) and
in-toto's (its own DSSE Envelope model), then its payload read as an in-toto statement.

    dsse_verify.py PUBLIC.pem ENVELOPE.json  ->  prints the statement's JSON, exit 0
"""

import copy
import json
import sys

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from in_toto.models.metadata import Envelope as InTotoEnvelope
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey


def main(public, envelope):
    with open(public, "rb") as f:
        crypto = load_pem_public_key(f.read())
    with open(envelope, "rb") as f:
        doc = json.load(f)
    found = SSlibKey.from_crypto(crypto, scheme="ecdsa-sha2-nistp256")
    # Both libraries match signatures to keys by keyid; the envelope's is "", as cosign
    # writes it for a key, so the key is given that id.
    key = SSlibKey("", found.keytype, found.scheme, found.keyval)
    env = Envelope.from_dict(copy.deepcopy(doc))
    env.verify([key], 1)
    InTotoEnvelope.from_dict(copy.deepcopy(doc)).verify_signature(dict(key.to_dict(), keyid=""))
    if env.payload_type != "application/vnd.in-toto+json":
        raise SystemExit(f"payloadType {env.payload_type}")
    print(json.dumps(json.loads(env.payload)))


if __name__ == "__main__":
    main(*sys.argv[1:])

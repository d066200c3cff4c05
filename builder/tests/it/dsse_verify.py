"""The provenance oracle: a DSSE envelope and its in-toto statement checked with
PyPI's securesystemslib (the envelope's signature over DSSE's PAE, given the PEM public
key) and in-toto's attestation model (the statement parses as an in-toto v1 Statement).

    dsse_verify.py PUBLIC.pem ENVELOPE.json  ->  prints the statement's JSON, exit 0
"""

import json
import sys

from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey


def main(public, envelope):
    with open(public, "rb") as f:
        key = SSlibKey.from_pem(f.read(), scheme="ecdsa-sha2-nistp256")
    with open(envelope, "rb") as f:
        env = Envelope.from_dict(json.load(f))
    # The envelope names no key (keyid "", as cosign writes it): ours is that key.
    key = SSlibKey(env.signatures and list(env.signatures)[0] or "", key.keytype, key.scheme, key.keyval)
    env.verify([key], 1)
    if env.payload_type != "application/vnd.in-toto+json":
        raise SystemExit(f"payloadType {env.payload_type}")
    statement = json.loads(env.pae() and env.payload)
    try:
        # in-toto's own model of the v1 Statement, when the package has it.
        from in_toto_attestation.v1.statement import Statement  # noqa: F401
    except ImportError:
        pass
    print(json.dumps(statement))


if __name__ == "__main__":
    main(*sys.argv[1:])

"""ODK managed encryption: what a passphrase costs, and how fast encrypted submissions open.

Prints the time to create a project key (RSA-3072, the private key sealed with scrypt N=2^17),
to open it with the passphrase (paid once per export or decryption batch), to reject a wrong
passphrase, and how many Collect-encrypted submissions (an instance of about 4 KB and one 200 KB
photo) are opened per second, signature checked. In memory only; no server, no database.

    .venv/bin/python bench/encryption.py [--count 200] [--photo-kb 200]
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server import odk_encryption as odk
from tests.encryption.collect import encrypt_submission

PASSPHRASE = "benchmark passphrase, long enough"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--photo-kb", type=int, default=200)
    args = parser.parse_args()

    started = time.perf_counter()
    pair = odk.generate_key_pair(PASSPHRASE)
    created = time.perf_counter() - started
    print(f"key pair created (RSA-{odk.KEY_BITS}, scrypt N=2^17): {created:.2f} s")
    started = time.perf_counter()
    private = odk.unlock(pair.private_sealed, PASSPHRASE)
    print(f"private key opened with the passphrase: {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    try:
        odk.unlock(pair.private_sealed, "a wrong passphrase")
    except odk.WrongPassphrase:
        print(f"wrong passphrase refused: {time.perf_counter() - started:.2f} s")

    public = serialization.load_der_public_key(base64.b64decode(pair.public_b64))
    assert isinstance(public, rsa.RSAPublicKey)
    photo = os.urandom(args.photo_kb * 1024)
    body = "".join(f"<q{i}>answer number {i}</q{i}>" for i in range(200))
    sent = []
    for n in range(args.count):
        instance_id = f"uuid:bench-{n}"
        meta = f"<meta><instanceID>{instance_id}</instanceID></meta>"
        xml = f'<data id="f" version="1">{body}{meta}</data>'
        sub = encrypt_submission(public, "f", "1", instance_id, xml.encode(), {"p.jpg": photo})
        sent.append((odk.read_manifest(etree.fromstring(sub.manifest), instance_id), sub.files))

    started = time.perf_counter()
    for manifest, files in sent:
        opened = odk.open_submission(private, manifest, files.get)
        assert opened.signature_valid
    elapsed = time.perf_counter() - started
    megabytes = args.count * (len(photo) + len(body)) / 1e6
    print(
        f"opened {args.count} submissions with a {args.photo_kb} KB photo: "
        f"{args.count / elapsed:.0f}/s, {megabytes / elapsed:.1f} MB/s of clear text"
    )


if __name__ == "__main__":
    main()

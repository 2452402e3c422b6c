"""Offline bundles: how long writing and opening (every check, decryption, every hash) take, and
how big the file is, for an outbox of N forms with attachments.

    .venv/bin/python bench/bundles.py                          # 2,000 forms, 40 photos of 512 KiB
    .venv/bin/python bench/bundles.py --forms 10000 --photos 200

Prints figures; asserts only that what was written is what comes back out.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.bundles import format as fmt
from server.bundles.crypto import KeyPair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", type=int, default=2000)
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--photo-kb", type=int, default=512)
    args = parser.parse_args()

    sender, centre = KeyPair.generate(), KeyPair.generate()
    files: dict[str, object] = {}
    submissions = []
    plain_bytes = 0
    for n in range(args.forms):
        xml = (
            f'<data id="eore_session" version="1"><date_of_information>2026-11-21'
            f"</date_of_information><beneficiaries>{n}</beneficiaries><meta><instanceID>uuid:"
            f"{uuid.uuid4()}</instanceID></meta></data>"
        ).encode()
        plain_bytes += len(xml)
        files[f"items/{n}.xml"] = lambda data=xml: io.BytesIO(data)
        submissions.append({"client_id": str(n), "xml": f"items/{n}.xml", "attachments": []})
    for n in range(args.photos):
        photo = os.urandom(args.photo_kb * 1024)  # photos do not compress
        plain_bytes += len(photo)
        files[f"blobs/photo{n}"] = lambda data=photo: io.BytesIO(data)
    contents = fmt.Contents(
        kind=fmt.OUTBOX,
        project_id=1,
        body={"submissions": submissions},
        files=files,  # type: ignore[arg-type]
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.fsb"
        started = time.perf_counter()
        written = fmt.write_bundle(out, contents, sender, centre.public)
        wrote = time.perf_counter() - started
        started = time.perf_counter()
        opened = fmt.open_bundle(
            out,
            sender_key=lambda _k: sender.public,
            recipient=centre,
            project_id=1,
            workdir=Path(tmp),
        )
        checked = time.perf_counter() - started
        assert len(opened.manifest["files"]) == args.forms + args.photos
        opened.close()
    mib = plain_bytes / 2**20
    print(
        f"{args.forms} forms, {args.photos} photos of {args.photo_kb} KiB: {mib:.1f} MiB of content"
    )
    print(
        f"bundle file: {written.size / 2**20:.1f} MiB "
        f"({written.size / plain_bytes:.2f} of the content)"
    )
    print(f"export (zip, encrypt, sign, fsync, rename): {wrote:.2f} s ({mib / wrote:.1f} MiB/s)")
    print(
        f"open (signature, decrypt, every hash):      {checked:.2f} s ({mib / checked:.1f} MiB/s)"
    )


if __name__ == "__main__":
    main()

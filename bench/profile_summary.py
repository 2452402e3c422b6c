"""Where the server's time goes, from py-spy's collapsed stacks (``bench/ingest.py --profile
FILE.txt``): the share of samples spent inside each of the named layers, and the functions of
the project with the most samples below them.

    .venv/bin/python bench/profile_summary.py /tmp/profile.txt [--top 30]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# What a sample is counted under: the first (outermost) matching frame decides nothing, every
# matching frame on the stack counts (inclusive time).
LAYERS = {
    "request (whole WSGI call)": r"wsgi_app ",
    "multipart parsing": r"received_submission|_parse \(server/openrosa/multipart",
    "blob store write (photo)": r"store_attachments|put_stream",
    "authentication (app user)": r"authenticate_app_user|app_user_caller",
    "submissions.ingest": r"ingest \(server/submissions/service",
    "XML parse": r"parse_instance",
    "entity step": r"receive \(server/entities/inbox",
    "commit": r"commit \(server/web",
    "SQLAlchemy ORM flush": r"flush \(sqlalchemy/orm/session",
    "SQLAlchemy execute": r"execute \(sqlalchemy/(engine|orm)/",
    "psycopg (driver, waiting for the database)": r"\(psycopg/",
    "lxml": r"lxml",
    "JSON log lines": r"logging_setup|emit \(logging",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    stacks: list[tuple[list[str], int]] = []
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    in_request = [(s, n) for s, n in stacks if any("wsgi_app " in f for f in s)]
    total = sum(n for _s, n in in_request) or 1
    print(f"{total} samples inside a request ({sum(n for _s, n in stacks)} in all)")
    for name, pattern in LAYERS.items():
        regex = re.compile(pattern)
        share = sum(n for s, n in in_request if any(regex.search(f) for f in s))
        print(f"{share / total * 100:5.1f} %  {name}")
    own: Counter[str] = Counter()
    for stack, n in in_request:
        seen = set()
        for frame in stack:
            if "(server/" in frame and frame not in seen:
                seen.add(frame)
                own[frame] += n
    print(f"\nproject functions by inclusive share (top {args.top}):")
    for frame, n in own.most_common(args.top):
        print(f"{n / total * 100:5.1f} %  {frame}")


if __name__ == "__main__":
    main()

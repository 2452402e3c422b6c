"""Digest nonce use, tracked in the database so every server process sees it: each nonce's
highest ``nc``, and whether it has already authorised a write.

A nonce is accepted with a count higher than any seen before, and only until it has authorised
one write (``POST /submission``): a replayed header, or a second write on the same nonce, is
answered with a fresh challenge (``stale=true``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.accounts.models import DigestNonce


def use_nonce(
    session: Session, nonce: str, nc: int, *, write: bool, expires_at: datetime, now: datetime
) -> bool:
    """Record one use of ``nonce`` with count ``nc``; False when it is a replay (a count not
    higher than one seen) or the nonce already authorised a write.

    One conditional statement decides, so two processes racing with the same header cannot
    both win.
    """
    claimed = session.execute(
        update(DigestNonce)
        .where(DigestNonce.nonce == nonce, DigestNonce.highest_nc < nc, ~DigestNonce.spent)
        .values(highest_nc=nc, spent=write)
        .returning(DigestNonce.nonce)
    ).first()
    if claimed is not None:
        return True
    try:
        with session.begin_nested():
            session.add(DigestNonce(nonce=nonce, highest_nc=nc, spent=write, expires_at=expires_at))
            session.flush()
    except IntegrityError:
        return False  # the nonce is known and this count (or a write) was already used
    sweep(session, now)
    return True


def sweep(session: Session, now: datetime) -> int:
    """Delete nonces that are past their validity (they are refused as stale by their signed
    timestamp anyway); returns how many. Runs whenever a new nonce is first used."""
    result = session.execute(delete(DigestNonce).where(DigestNonce.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)

"""Idempotency keys for pushes (after the IETF Idempotency-Key draft).

A key is claimed by inserting its row and committing at once, before any work: the unique
constraint on (user, key) decides which of two racing requests does the work, never a
look-then-insert. The answer is stored in the same transaction as the work it describes, so a
retry gets either the stored answer or, if the work rolled back, a fresh attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from server import errors
from server.db import transaction, utcnow
from server.sync.models import IdempotencyKey, IdempotencyStatus

# A claim older than this is taken to belong to a request that died (server restart); its key
# may be claimed again. Items are idempotent by instanceID, so redoing the work is safe.
CLAIM_LEASE = timedelta(minutes=5)
KEY_RETENTION = timedelta(days=7)
RETRY_AFTER_SECONDS = 2


@dataclass(frozen=True)
class Claim:
    """Either the right to do the work (``replay`` is None) or the stored answer to send."""

    replay: dict[str, Any] | None


def claim(factory: sessionmaker[Session], user_id: int, key: str, request_sha256: str) -> Claim:
    """Claim ``key`` for this request, in its own committed transaction.

    Raises:
        Problem: 422 ``sync.idempotency_key_reused`` when the key was used with another body;
            409 ``sync.request_in_flight`` while another request holds it.
    """
    now = utcnow()
    try:
        with transaction(factory) as session:
            session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.user_id == user_id,
                    IdempotencyKey.created_at < now - KEY_RETENTION,
                )
            )
            session.add(
                IdempotencyKey(
                    user_id=user_id,
                    key=key,
                    request_sha256=request_sha256,
                    status=IdempotencyStatus.IN_FLIGHT.value,
                    created_at=now,
                    claimed_at=now,
                )
            )
        return Claim(replay=None)
    except IntegrityError:
        pass
    with transaction(factory) as session:
        row = session.scalars(
            select(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
            )
        ).first()
        if row is None:
            # Released by a failed attempt between our insert and this read.
            raise errors.request_in_flight(RETRY_AFTER_SECONDS)
        if row.request_sha256 != request_sha256:
            raise errors.idempotency_key_reused()
        if row.status == IdempotencyStatus.DONE and row.response is not None:
            return Claim(replay=row.response)
        # Take over a claim whose holder died; the compare-and-set makes one taker win.
        taken = session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.id == row.id,
                IdempotencyKey.status == IdempotencyStatus.IN_FLIGHT.value,
                IdempotencyKey.claimed_at < now - CLAIM_LEASE,
            )
            .values(claimed_at=now)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return Claim(replay=None)
    raise errors.request_in_flight(RETRY_AFTER_SECONDS)


def complete(session: Session, user_id: int, key: str, response: dict[str, Any]) -> None:
    """Store the answer, in the caller's transaction (the one that did the work)."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .values(status=IdempotencyStatus.DONE.value, response=response, completed_at=utcnow())
    )


def release(factory: sessionmaker[Session], user_id: int, key: str) -> None:
    """Give the key back after the work failed, so a retry need not wait for the lease."""
    with transaction(factory) as session:
        session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.key == key,
                IdempotencyKey.status == IdempotencyStatus.IN_FLIGHT.value,
            )
        )

"""``fieldsync push``: attachments first (only those the server lacks, in resumable checksummed
chunks), then submissions in gzip-compressed batches under an Idempotency-Key, then queued
conflict resolutions.

A cut link costs at most one chunk or one batch: the next attempt resumes at the offset the
server reports, and a batch is resent under its stored key, so the server answers it once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sync_client import outbox
from sync_client.backoff import RetryableFailure
from sync_client.conflicts import fetch_one
from sync_client.errors import ServerError, StoreError, UsageError
from sync_client.http import Api, ApiProblem, Forbidden
from sync_client.outbox import Refusal
from sync_client.progress import Tracker
from sync_client.store import Store

MISSING_QUERY_LIMIT = 1000
LOCAL_BLOB_MISSING = "local.attachment_missing"
# Rounds of "upload what the server says is missing, resend the items": more would loop on a
# server that keeps losing blobs.
MAX_ROUNDS = 3


@dataclass
class PushOptions:
    batch_items: int = 200
    batch_bytes: int = 2 * 1024 * 1024
    chunk_bytes: int = 256 * 1024
    # Batches in flight at once: the server stores one batch while the next one travels.
    parallel: int = 2


@dataclass
class PushReport:
    counts: Counter[str] = field(default_factory=Counter)
    refused: list[Refusal] = field(default_factory=list)
    blobs_uploaded: int = 0
    blob_bytes: int = 0
    resolutions_sent: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(self.counts[s] for s in outbox.DONE_STATUSES)


def push(
    store: Store,
    api: Api,
    project_id: int,
    options: PushOptions | None = None,
    tracker: Tracker | None = None,
) -> PushReport:
    """Send everything pending.

    Raises:
        FieldsyncError: offline, auth, server or store failures (what was confirmed before the
            failure stays confirmed).
    """
    options = options or PushOptions()
    tracker = tracker or Tracker(None, None, 0)
    report = PushReport()
    for _round in range(MAX_ROUNDS):
        retry = 0
        # Forms imported while another project was chosen still go to that project. The server
        # keeps each project's attachments apart, so they are uploaded to the project first.
        for target in outbox.pending_projects(store, project_id):
            upload_blobs(store, api, target, options, report, tracker, current=project_id)
            retry += _send_batches(store, api, target, options, report, tracker)
        if retry == 0:
            break
    else:
        report.warnings.append(
            "some items still wait for attachments the server did not keep; run push again"
        )
    _push_resolutions(store, api, project_id, report)
    return report


# --- blobs ---------------------------------------------------------------------------------------


def missing_on_server(api: Api, project_id: int, hashes: list[str]) -> set[str]:
    """Which of ``hashes`` the project does not hold complete on the server.

    Raises: FieldsyncError."""
    missing: set[str] = set()
    for start in range(0, len(hashes), MISSING_QUERY_LIMIT):
        chunk = hashes[start : start + MISSING_QUERY_LIMIT]
        answer = api.json(
            "POST",
            "/api/v1/sync/blobs/missing",
            json_body={"project_id": project_id, "sha256": chunk},
            gzip_body=True,
        )
        missing.update(str(h) for h in answer.get("missing", []))
    return missing


def upload_blobs(
    store: Store,
    api: Api,
    project_id: int,
    options: PushOptions,
    report: PushReport,
    tracker: Tracker,
    *,
    current: int | None = None,
) -> None:
    """Upload the attachments of ``project_id``'s pending submissions the project lacks
    (``current``, the chosen project, also takes forms imported before any was chosen)."""
    candidates = outbox.blobs_to_upload(store, project_id, current)
    if not candidates:
        return
    missing = missing_on_server(api, project_id, [sha for sha, _ in candidates])
    present = [sha for sha, _ in candidates if sha not in missing]
    if present:
        outbox.mark_uploaded(store, present)
        tracker.advance(nbytes=sum(size for sha, size in candidates if sha in set(present)))
    for sha, size in candidates:
        if sha not in missing:
            continue
        try:
            store.verify_blob(sha)
        except StoreError as exc:
            # One lost photo must not hold back everything else: its forms wait, with the
            # reason, until the tablet folder is imported again.
            for key in outbox.refuse_for_blob(store, sha, LOCAL_BLOB_MISSING, str(exc)):
                report.refused.append(Refusal(key, "rejected", LOCAL_BLOB_MISSING, str(exc)))
            continue
        upload_blob(store, api, project_id, sha, size, options.chunk_bytes, tracker)
        outbox.mark_uploaded(store, [sha])
        report.blobs_uploaded += 1
        report.blob_bytes += size


def _blob_path(project_id: int, sha256: str) -> str:
    return f"/api/v1/sync/blobs/{sha256}?project_id={project_id}"


def server_offset(api: Api, project_id: int, sha256: str) -> tuple[int, bool]:
    """(bytes the server holds, complete?) for the project's blob. Raises: FieldsyncError."""
    response = api.call("HEAD", _blob_path(project_id, sha256))
    offset = int(response.headers.get("Upload-Offset") or 0)
    return offset, response.headers.get("Upload-Complete") == "1"


def upload_blob(
    store: Store,
    api: Api,
    project_id: int,
    sha256: str,
    size: int,
    chunk_bytes: int,
    tracker: Tracker,
) -> None:
    """Upload one blob from wherever the server's copy stops.

    Raises:
        StoreError: the local file is missing.
        ServerError: the server keeps refusing the content, or its offsets make no progress.
        FieldsyncError: offline or auth failures.
    """
    offset, complete = server_offset(api, project_id, sha256)
    restarts = 0
    stalls = 0
    if offset:
        tracker.advance(nbytes=min(offset, size))
    while not complete:
        with store.open_blob(sha256) as fh:
            fh.seek(offset)
            chunk = fh.read(chunk_bytes)
        checksum = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        headers = {
            "Upload-Offset": str(offset),
            "Upload-Length": str(size),
            "Upload-Checksum": f"sha256 {checksum}",
            "Content-Type": "application/offset+octet-stream",
        }

        def step(body: bytes = chunk, hdrs: dict[str, str] = headers) -> Any:
            try:
                return api.attempt(
                    "PATCH", _blob_path(project_id, sha256), data=body, headers=hdrs, ok=(204, 200)
                )
            except ApiProblem as problem:
                if problem.code == "blob.checksum_mismatch":
                    # The chunk was damaged on the way: sending it again is the fix.
                    raise RetryableFailure(ServerError(problem.detail)) from problem
                raise

        try:
            response = api.run(step)
        except ApiProblem as problem:
            if problem.code == "blob.offset_mismatch" and "Upload-Offset" in problem.headers:
                # An earlier attempt landed although its answer was lost: carry on from there.
                new_offset = int(problem.headers["Upload-Offset"])
                stalls = stalls + 1 if new_offset == offset else 0
                if stalls > 3:
                    raise ServerError(
                        f"the server keeps refusing attachment {sha256[:12]}… at offset {offset}"
                    ) from problem
                tracker.advance(nbytes=max(0, new_offset - offset))
                offset = new_offset
                complete = problem.headers.get("Upload-Complete") == "1"
                if offset >= size and not complete:
                    offset, complete = server_offset(api, project_id, sha256)
                continue
            if problem.code == "blob.hash_mismatch" and restarts < 2:
                restarts += 1
                offset = 0
                continue
            raise
        new_offset = int(response.headers.get("Upload-Offset") or offset + len(chunk))
        tracker.advance(nbytes=max(0, new_offset - offset))
        offset = new_offset
        complete = response.headers.get("Upload-Complete") == "1"
        if not complete and offset >= size:
            # Every byte is there but the server does not call it complete: ask where it stands.
            offset, complete = server_offset(api, project_id, sha256)
            if not complete and offset >= size:
                raise ServerError(
                    f"the server holds all {size} bytes of attachment {sha256[:12]}… but does "
                    "not mark it complete"
                )


# --- submissions ---------------------------------------------------------------------------------


def _send_batches(
    store: Store,
    api: Api,
    project_id: int,
    options: PushOptions,
    report: PushReport,
    tracker: Tracker,
) -> int:
    """Send the open batches (left by an interrupted run) and then new ones, ``parallel`` at a
    time; returns how many items were handed back to the queue for another round."""
    lock = threading.Lock()
    open_keys = outbox.open_batches(store)
    # Walk forward by id, so items handed back to the queue in this round wait for the next
    # one (after their attachments were uploaded again).
    walk = {"after_id": 0, "retry": 0}
    failures: list[BaseException] = []

    def next_key() -> str | None:
        with lock:
            if failures:
                return None
            if open_keys:
                return open_keys.pop(0)
            formed = outbox.form_batch(
                store, project_id, options.batch_items, options.batch_bytes, walk["after_id"]
            )
            if formed is None:
                return None
            walk["after_id"] = formed[1]
            return formed[0]

    def work(worker_api: Api) -> None:
        try:
            while (key := next_key()) is not None:
                retry = _send_batch(store, worker_api, key, options, report, tracker, lock)
                with lock:
                    walk["retry"] += retry
        except BaseException as exc:  # handed to the main thread, which raises it
            with lock:
                failures.append(exc)

    if options.parallel <= 1:
        work(api)
    else:
        workers = [
            threading.Thread(target=work, args=(api.clone(),), daemon=True)
            for _ in range(options.parallel)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    if failures:
        raise failures[0]
    return walk["retry"]


def _send_batch(
    store: Store,
    api: Api,
    key: str,
    options: PushOptions,
    report: PushReport,
    tracker: Tracker,
    lock: threading.Lock,
) -> int:
    """Send one batch and commit its answer; the number of items to send again."""
    with lock:
        items = outbox.batch_items(store, key)
        if not items:
            return 0
        project_id = outbox.batch_project(store, key)
        body = outbox.push_body(project_id, items)
    try:
        answer = api.json(
            "POST",
            "/api/v1/sync/push",
            json_body=body,
            gzip_body=True,
            headers={"Idempotency-Key": key},
        )
    except ApiProblem as problem:
        with lock:
            return _batch_refused(store, key, items, problem, options)
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise ServerError("the server's push answer has no results list")
    with lock:
        outcome = outbox.record_results(store, key, results)
        report.counts.update(outcome.counts)
        report.refused.extend(outcome.refused)
        done = sum(outcome.counts[s] for s in outbox.DONE_STATUSES) + len(outcome.refused)
        tracker.advance(nbytes=sum(len(i.body) for i in items), items=done)
    return outcome.retry


def _batch_refused(
    store: Store, key: str, items: list[outbox.OutboxItem], problem: ApiProblem, opts: PushOptions
) -> int:
    if problem.code == "sync.idempotency_key_reused":
        # The server holds a different body under this key; the items are safe to send again
        # under a new one, since the server recognises them by instanceID.
        outbox.release_batch(store, key, "batch key refused by the server; resent under a new key")
        return len(items)
    if problem.status == 413:
        if len(items) == 1:
            outbox.finish_item(store, items[0].id, "rejected", problem.code, problem.detail)
            return 0
        opts.batch_items = max(1, len(items) // 2)
        opts.batch_bytes = max(1, opts.batch_bytes // 2)
        outbox.release_batch(store, key, "batch too large for the server; resent in smaller ones")
        return len(items)
    if problem.status == 404:
        raise UsageError(
            f"the server refused the push ({problem.detail}): the project is unknown, you have "
            "no role in it, or the server does not offer the sync API"
        )
    raise problem


# --- conflict resolutions ------------------------------------------------------------------------


def resolution_path(project_id: int, conflict_id: str) -> str:
    return f"/api/v1/projects/{project_id}/conflicts/{conflict_id}/resolution"


def _push_resolutions(store: Store, api: Api, project_id: int, report: PushReport) -> None:
    for item in outbox.pending_resolutions(store):
        target_project = item.project_id or project_id
        key = outbox.assign_key(store, item.id, target_project, "resolution")
        body = json.loads(item.body)
        try:
            api.call(
                "POST",
                resolution_path(target_project, str(item.conflict_id)),
                json_body=body,
                headers={"Idempotency-Key": key},
                ok=(200, 201, 204),
            )
        except Forbidden as exc:
            outbox.finish_item(store, item.id, "rejected", "auth.forbidden", str(exc))
            report.refused.append(
                Refusal(str(item.conflict_id), "rejected", "auth.forbidden", str(exc))
            )
            continue
        except ApiProblem as problem:
            if problem.status == 404 and problem.detail.startswith("no route"):
                report.warnings.append(
                    "this server does not accept conflict resolutions yet (404); "
                    f"the resolution of {item.conflict_id} stays queued"
                )
                continue
            if problem.status >= 500:
                raise
            if problem.code == "conflict.closed" and _already_ours(
                api, target_project, str(item.conflict_id), body
            ):
                # An earlier attempt went through but its answer was lost on the way back.
                outbox.finish_item(store, item.id, "sent", None, "")
                report.resolutions_sent += 1
                continue
            state = "conflict" if problem.status == 409 else "rejected"
            outbox.finish_item(store, item.id, state, problem.code, problem.detail)
            report.refused.append(
                Refusal(str(item.conflict_id), state, problem.code, problem.detail)
            )
            continue
        outbox.finish_item(store, item.id, "sent", None, "")
        report.resolutions_sent += 1


def _already_ours(api: Api, project_id: int, conflict_id: str, sent: dict[str, Any]) -> bool:
    """Whether a closed conflict was closed by the very resolution we are sending."""
    try:
        conflict = fetch_one(api, project_id, conflict_id)
    except ApiProblem:
        return False
    resolution = conflict.get("resolution") or {}
    if not isinstance(resolution, dict) or resolution.get("reason") != sent.get("reason"):
        return False
    # With no values, the server filled in the value it showed: the reason identifies us.
    wanted = sent.get("values") or {}
    return not wanted or (resolution.get("values") or {}) == wanted

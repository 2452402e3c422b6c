"""The pure parts behind the command line's messages: the retry listener and its reporter,
login addresses, the other scheme, how a conflict's senders are read, plurals."""

from __future__ import annotations

import io

import pytest

from sync_client.backoff import RetryableFailure, RetryNotice, RetryPolicy
from sync_client.commands.login import server_address
from sync_client.conflicts import describe, sender
from sync_client.errors import OfflineError, ServerError, UsageError
from sync_client.lan import is_loopback, url_is_loopback
from sync_client.linkcheck import other_scheme_url
from sync_client.progress import RetryReporter, plural, retry_message


class Heard:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def retrying(self, notice: RetryNotice) -> None:
        self.events.append(("retrying", (notice.retry, notice.max_retries)))

    def recovered(self, retries: int) -> None:
        self.events.append(("recovered", retries))

    def gave_up(self) -> None:
        self.events.append(("gave_up", None))


def test_the_policy_tells_its_listener_each_wait_and_the_outcome() -> None:
    heard = Heard()
    policy = RetryPolicy(max_retries=5, sleep=lambda _s: None, rand=lambda: 0.5, listener=heard)
    calls = iter([True, True, False])

    def step() -> str:
        if next(calls):
            raise RetryableFailure(OfflineError("down"))
        return "ok"

    assert policy.run(step) == "ok"
    assert heard.events == [("retrying", (1, 5)), ("retrying", (2, 5)), ("recovered", 2)]

    heard.events.clear()
    spent = RetryPolicy(max_retries=1, sleep=lambda _s: None, listener=heard)

    def down() -> None:
        raise RetryableFailure(OfflineError("down"))

    with pytest.raises(OfflineError):
        spent.run(down)
    assert heard.events == [("retrying", (1, 1)), ("gave_up", None)]


def test_the_reporter_updates_one_line_on_a_terminal_and_writes_lines_otherwise() -> None:
    notice = RetryNotice(OfflineError("x"), 7.2, 3, 10)
    assert retry_message(notice) == (
        "server unreachable, retrying in 8 s (attempt 3 of 10); Ctrl-C stops, nothing is lost"
    )
    assert retry_message(RetryNotice(ServerError("the server failed (503)"), 1, 1, 2)).startswith(
        "the server failed (503), retrying in 1 s"
    )
    log = io.StringIO()
    lines = RetryReporter(log, tty=False)
    lines.retrying(notice)
    lines.retrying(notice)
    lines.recovered(2)
    assert log.getvalue().count("\n") == 3
    assert log.getvalue().endswith("server reachable again after 2 retries\n")

    screen = io.StringIO()
    tty = RetryReporter(screen, tty=True)
    tty.retrying(notice)
    tty.retrying(notice)
    tty.gave_up()
    assert "\n" not in screen.getvalue()
    assert screen.getvalue().count("\r\x1b[K") == 3


def test_server_addresses_from_what_a_coordinator_pastes() -> None:
    assert server_address("https://fs.example.org/") == ("https://fs.example.org", None)
    base, note = server_address("https://fs.example.org/api/v1/")
    assert base == "https://fs.example.org"
    assert note and "/api/v1" in note
    with pytest.raises(UsageError, match=r"device URL.*`fieldsync login https://fs.example.org`"):
        server_address("https://fs.example.org/v1/key/AbC123/projects/4")
    with pytest.raises(UsageError, match="not a URL"):
        server_address("fs.example.org")


def test_the_other_scheme_keeps_the_port_reached() -> None:
    assert other_scheme_url("https://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert other_scheme_url("https://fs.example.org") == "http://fs.example.org:443"
    assert other_scheme_url("http://fs.example.org:8443/") == "https://fs.example.org:8443/"


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("192.168.8.10") and not is_loopback("0.0.0.0")  # noqa: S104
    assert url_is_loopback("http://127.0.1.1:8765/v1/key/x")


def test_who_sent_a_value_is_read_from_its_source() -> None:
    s = sender("submission uuid:1 (app user 3, device collect:abc)")
    assert (s.who, s.device, s.instance_id) == ("app user 3", "collect:abc", "uuid:1")
    assert sender("user 5").who == "user 5"
    text = describe(
        {
            "id": 4,
            "list": "hazard_areas",
            "entity": "e1",
            "kind": "hard",
            "property": "status",
            "base_value": "suspected",
            "current_value": "cleared",
            "incoming": [
                {
                    "value": "cleared",
                    "source": "submission uuid:1 (app user 3, device collect:abc)",
                    "date_of_information": "2026-11-12",
                    "received_at": "2026-11-13T08:10:00+00:00",
                }
            ],
        }
    )
    assert text.splitlines() == [
        "4  hazard_areas/e1  hard  property status: base 'suspected', now 'cleared'",
        "    sent 'cleared' from app user 3 on device collect:abc, information of 2026-11-12, "
        "received 2026-11-13 08:10",
    ]


def test_plurals() -> None:
    assert plural(1, "attachment") == "1 attachment"
    assert plural(0, "page") == "0 pages"
    assert plural(2, "retry", "retries") == "2 retries"

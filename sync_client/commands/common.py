"""What the ``fieldsync`` commands share: the network options, the API client built from them
(with the retry messages), the store opened for one command, and the words of their output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from sync_client.backoff import RetryPolicy
from sync_client.home import Config
from sync_client.http import CONNECT_TIMEOUT, Api
from sync_client.progress import RetryReporter, plural
from sync_client.store import Store, open_store

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "NetOptions",
    "human_bytes",
    "make_api",
    "network_options",
    "opened_store",
    "plural",
]


@dataclass
class NetOptions:
    max_retries: int
    max_wait: float
    retry_base: float
    read_timeout: float
    connect_timeout: float = CONNECT_TIMEOUT

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries,
            base_seconds=self.retry_base,
            max_wait_seconds=self.max_wait,
            listener=RetryReporter(),
        )


def network_options(func: F) -> F:
    """The retry and timeout options every command that talks to the server takes."""
    options = [
        click.option(
            "--max-retries",
            type=click.IntRange(0),
            default=10,
            show_default=True,
            envvar="FIELDSYNC_MAX_RETRIES",
            help="Retries this command may spend in total on a flaky link.",
        ),
        click.option(
            "--max-wait",
            type=click.FloatRange(0),
            default=30.0,
            show_default=True,
            envvar="FIELDSYNC_MAX_WAIT",
            help="Longest wait between two attempts, in seconds.",
        ),
        click.option(
            "--retry-base",
            type=click.FloatRange(0),
            default=1.0,
            show_default=True,
            envvar="FIELDSYNC_RETRY_BASE",
            help="First backoff step, in seconds (doubles on each retry, with jitter).",
        ),
        click.option(
            "--connect-timeout",
            type=click.FloatRange(1),
            default=CONNECT_TIMEOUT,
            show_default=True,
            envvar="FIELDSYNC_CONNECT_TIMEOUT",
            help="Seconds to reach the server (connection and TLS handshake) on each attempt.",
        ),
        click.option(
            "--read-timeout",
            type=click.FloatRange(1),
            default=60.0,
            show_default=True,
            envvar="FIELDSYNC_READ_TIMEOUT",
            help="Seconds without a byte from the server before an attempt is given up.",
        ),
    ]

    @wraps(func)
    def wrapper(
        *args: Any,
        max_retries: int,
        max_wait: float,
        retry_base: float,
        connect_timeout: float,
        read_timeout: float,
        **kwargs: Any,
    ) -> Any:
        net = NetOptions(max_retries, max_wait, retry_base, read_timeout, connect_timeout)
        return func(*args, net=net, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return cast(F, wrapper)


def make_api(config: Config, net: NetOptions, token: str | None = None) -> Api:
    return Api(
        config.server_url,
        token if token is not None else config.token,
        net.policy(),
        timeout=(net.connect_timeout, net.read_timeout),
    )


@contextmanager
def opened_store(home: Path) -> Iterator[Store]:
    store = open_store(home)
    try:
        yield store
    finally:
        store.close()


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"

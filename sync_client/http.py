"""The HTTP client in one place: the session (timeouts for slow links, user agent), one attempt
of a request with its failure sorted into a kind, and retries where the step is idempotent.

Every protocol step is idempotent by design (idempotency keys, content-addressed blobs, cursors),
so every step here may be retried; the command's retry budget bounds how long we keep trying.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from sync_client import __version__
from sync_client.backoff import RetryableFailure, RetryPolicy, parse_retry_after
from sync_client.errors import AuthError, OfflineError, ServerError, UsageError
from sync_client.linkcheck import scheme_mismatch

T = TypeVar("T")

# Short: reaching the server (TCP and the TLS handshake) takes a few round trips even over a
# satellite link, while waiting for an answer may legitimately take much longer.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
USER_AGENT = f"fieldsync/{__version__}"

# Statuses that mean "not now" rather than "no": worth another attempt after a wait.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ApiProblem(ServerError):
    """The server refused a request with a status the caller may want to branch on."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"the server refused the request ({status} {code}): {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


class Forbidden(AuthError):
    """403: logged in, but the role does not allow this."""


def make_session() -> requests.Session:
    """A session for slow links: no urllib3 retries (ours are budgeted), gzip accepted."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept-Encoding"] = "gzip"
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def problem_of(response: requests.Response) -> tuple[str, str]:
    """The ``code`` and ``detail`` of a problem+json answer, or generic ones."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body.get("code") or f"http.{response.status_code}")
        detail = str(body.get("detail") or body.get("title") or response.reason or "")
        fields = body.get("errors")
        if isinstance(fields, dict) and fields:
            # The server's own words per field, not only their names.
            detail = "; ".join(f"{name}: {_field_text(msg)}" for name, msg in fields.items())
        return code, detail
    return f"http.{response.status_code}", (response.reason or "no detail")


def _field_text(messages: Any) -> str:
    if isinstance(messages, list):
        return " ".join(_field_text(m) for m in messages)
    if isinstance(messages, dict):
        return "; ".join(f"{k}: {_field_text(v)}" for k, v in messages.items())
    return str(messages)


# Failures that a wrong scheme produces: a TLS handshake a plain-HTTP server never answers (a
# read timeout), a refused handshake, a plain request a TLS port cuts off.
_SCHEME_SUSPECTS = (requests.exceptions.SSLError, requests.ReadTimeout, requests.ConnectionError)


class Api:
    """Requests to one fieldsync server with one login token."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        policy: RetryPolicy,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.policy = policy
        self.session = session or make_session()
        self.timeout = timeout
        self.host = urlsplit(self.base_url).netloc or self.base_url
        self._scheme_checked = False

    def clone(self) -> Api:
        """The same server, login and retry budget, on a session of its own (one per thread:
        a requests session is not meant to be shared between threads)."""
        twin = Api(self.base_url, self.token, self.policy, timeout=self.timeout)
        twin._scheme_checked = self._scheme_checked
        return twin

    def check_scheme(self, exc: Exception) -> None:
        """After a failed attempt, whether the server speaks the other scheme (asked once).

        Raises:
            UsageError: it does; the message names the URL to use.
        """
        if self._scheme_checked or not isinstance(exc, _SCHEME_SUSPECTS):
            return
        if isinstance(exc, requests.ConnectTimeout):
            return  # nothing answered at all: a link problem, not a scheme problem
        self._scheme_checked = True
        other = scheme_mismatch(self.base_url)
        if other is None:
            return
        given = urlsplit(self.base_url).scheme.upper()
        spoken = urlsplit(other).scheme.upper()
        raise UsageError(
            f"the server at {self.host} speaks {spoken}, not {given}: use {other} "
            f"(`fieldsync login {other}`)"
        ) from exc

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + path

    def attempt(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        gzip_body: bool = False,
        ok: tuple[int, ...] = (200,),
        stream: bool = False,
    ) -> requests.Response:
        """One attempt of a request; an answer outside ``ok`` raises.

        Raises:
            RetryableFailure: the link failed or the server asked us to come back later.
            UsageError: the server speaks the other scheme (http/https) than the URL says.
            AuthError: 401 or 403.
            ApiProblem: any other status outside ``ok``.
        """
        all_headers: dict[str, str] = {}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        if json_body is not None:
            data = json.dumps(json_body, separators=(",", ":"), ensure_ascii=False).encode()
            all_headers["Content-Type"] = "application/json"
        if gzip_body and data is not None:
            # mtime=0 keeps the bytes identical between retries of the same body.
            data = gzip.compress(data, compresslevel=6, mtime=0)
            all_headers["Content-Encoding"] = "gzip"
        all_headers.update(headers or {})
        try:
            response = self.session.request(
                method,
                self.url(path),
                data=data,
                headers=all_headers,
                params=params,
                timeout=self.timeout,
                stream=stream,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            self.check_scheme(exc)
            raise RetryableFailure(self.link_error(exc)) from exc
        if response.status_code in ok:
            return response
        raise self.refusal(response)

    def refusal(self, response: requests.Response) -> Exception:
        """The exception for an answer we did not expect (to be raised by the caller)."""
        status = response.status_code
        code, detail = problem_of(response)
        if status == 401:
            if code == "auth.bad_credentials":
                return AuthError("wrong email or password")
            challenge = response.headers.get("WWW-Authenticate", "")
            if challenge and "bearer" not in challenge.lower():
                # A route that wants a password instead of our token: not an expired login.
                return AuthError(
                    f"the server at {self.host} does not accept the login token on "
                    f"{urlsplit(response.url).path} (it asks for a password); it may be older "
                    "than this fieldsync"
                )
            return AuthError(
                "the server no longer accepts this laptop's login (expired or revoked): "
                "run `fieldsync login` again"
            )
        if status == 403:
            return Forbidden(f"not allowed: {detail}")
        if (
            status == 400
            and urlsplit(self.base_url).scheme == "http"
            and "https port" in response.text[:2000].lower()
        ):
            # nginx's answer to plain HTTP on its TLS port.
            https = self.base_url.replace("http://", "https://", 1)
            return UsageError(
                f"the server at {self.host} speaks HTTPS, not HTTP: use {https} "
                f"(`fieldsync login {https}`)"
            )
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status in RETRY_STATUSES or code == "sync.request_in_flight":
            return RetryableFailure(
                ServerError(f"the server at {self.host} failed ({status} {code}): {detail}"),
                retry_after,
            )
        if 300 <= status < 400:
            return ServerError(
                f"the server at {self.host} redirected to {response.headers.get('Location')!r}; "
                "log in again with the final URL"
            )
        return ApiProblem(status, code, detail, response.headers)

    def link_error(self, exc: Exception) -> OfflineError:
        reason = type(exc).__name__
        if isinstance(exc, requests.Timeout):
            reason = "timed out"
        elif isinstance(exc, requests.ConnectionError):
            reason = "connection failed or was cut"
        return OfflineError(
            f"cannot reach {self.host} ({reason}); nothing was lost, run the command again "
            "when the link is back"
        )

    def run(self, step: Callable[[], T]) -> T:
        """Run an idempotent step with retries; link failures inside ``step`` while reading a
        streamed body are turned into retryable failures too.

        Raises:
            FieldsyncError: the last failure once the retry budget is spent.
        """

        def guarded() -> T:
            try:
                return step()
            except requests.RequestException as exc:
                raise RetryableFailure(self.link_error(exc)) from exc

        return self.policy.run(guarded)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """:meth:`attempt` with retries. Raises what :meth:`attempt` raises, minus retryables."""
        return self.run(lambda: self.attempt(method, path, **kwargs))

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """A JSON answer, retried as a whole if the body arrives cut short.

        Raises:
            FieldsyncError: see :meth:`attempt`; ServerError when the body is not JSON.
        """

        def step() -> Any:
            response = self.attempt(method, path, **kwargs)
            try:
                return response.json()
            except ValueError as exc:
                raise RetryableFailure(
                    ServerError(f"the server at {self.host} sent an unreadable answer")
                ) from exc

        return self.run(step)

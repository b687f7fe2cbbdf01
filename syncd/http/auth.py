"""One `httpx.Auth` class per scheme the vendors use; connectors only configure them.

    HeaderKeyAuth       a static key in a header          Quick Quote `x-api-key`, Offorte v2
    └── BearerAuth      `Authorization: Bearer <token>`    StrawBlond, Automa.Net
    OAuth2RefreshAuth   bearer + refresh grant on a 401    Offorte v1
    LoginTokenAuth      bearer from a login call on a 401  Happyoffer (Sanctum)

The two refreshing schemes are httpx generator flows: send, and on a 401 make one extra
request (refresh or login) and resend once — a second 401 reaches the client, which raises
`AuthError`. Both are thread-safe: when several requests of an account meet a 401 at once,
only the first refreshes; the others resend with the token it obtained. New tokens are
persisted through a `TokenStore` (the database) the moment they arrive. Every extra request
goes through the client's transport, so it is budgeted and logged like any other. No
message built here ever contains a token, key or password.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Generator
from typing import Any, Protocol

import httpx

from syncd.errors import AuthError, TransientVendorError

Flow = Generator[httpx.Request, httpx.Response, None]


class TokenStore(Protocol):
    """Persisted tokens (the database), so a refreshed pair survives a restart."""

    def load(self) -> dict[str, str] | None:
        """The tokens saved last, or None before the first login."""
        ...

    def save(self, tokens: dict[str, str]) -> None:
        """Keep a new pair where the next run and the other workers find it."""
        ...


class HeaderKeyAuth(httpx.Auth):
    """A static key in one header on every request.

    Example (Quick Quote): `HeaderKeyAuth("x-api-key", "qq-123")` sends `x-api-key: qq-123`;
    Offorte v2 takes its key as the raw `Authorization` value: `HeaderKeyAuth("Authorization",
    key)`.
    """

    def __init__(self, header: str, value: str, prefix: str = "") -> None:
        self.header = header
        self._value = f"{prefix}{value}"

    def auth_flow(self, request: httpx.Request) -> Flow:
        """Send the key in its header with every request."""
        request.headers[self.header] = self._value
        yield request


class BearerAuth(HeaderKeyAuth):
    """`Authorization: Bearer <token>` on every request (StrawBlond and Automa API keys)."""

    def __init__(self, token: str) -> None:
        super().__init__("Authorization", token, prefix="Bearer ")


def _origin(access_token: str | None, refresh_token: str | None) -> str:
    """Which settings pair a stored pair descends from: a hash, never the tokens.

    The same hash as `vendors.base.default_fingerprint` of the seed string, which pairs
    stored by earlier versions carry.
    """
    seed = json.dumps(f"{access_token}|{refresh_token}")
    return hashlib.blake2b(seed.encode(), digest_size=16).hexdigest()


class OAuth2RefreshAuth(httpx.Auth):
    """Bearer access token; on a 401 one refresh grant, persisted, and one resend.

    The refresh is a form POST to `{oauth_url}{refresh_path}`:

        grant_type=refresh_token&client_id=…&client_secret=…&refresh_token=…
        → 200 {"access_token": "…", "refresh_token": "…", "expires_in": 2592000}

    The pair comes from the `TokenStore` and falls back to the one in the settings. A stored
    pair remembers (as a hash) which settings pair it descends from, so putting a newly
    authorised pair in the settings takes effect. A refresh usually spends the old refresh
    token, so a request meeting a 401 after another one (thread or process) refreshed just
    resends with the stored pair instead of refreshing again.
    """

    requires_response_body = True

    def __init__(
        self,
        tokens: TokenStore,
        *,
        access_token: str | None,
        refresh_token: str | None,
        client_id: str | None,
        client_secret: str | None,
        oauth_url: str,
        refresh_path: str = "/oauth2/refresh-token",
        label: str = "oauth2",
    ) -> None:
        self.tokens = tokens
        self.settings_pair = {"access_token": access_token, "refresh_token": refresh_token}
        self.client = (client_id, client_secret)
        self.refresh_url = oauth_url.rstrip("/") + refresh_path
        self.label = label
        self._origin = _origin(access_token, refresh_token)
        self._lock = threading.Lock()

    def _pair(self) -> dict[str, str | None]:
        stored = self.tokens.load() or {}
        if stored.get("origin") not in (None, self._origin):
            stored = {}  # the user put a new pair in the settings since: it wins
        return {key: stored.get(key) or self.settings_pair[key]
                for key in ("access_token", "refresh_token")}

    def auth_flow(self, request: httpx.Request) -> Flow:
        """Send the access token; on a 401, refresh it once and send the request again."""
        sent = self._pair()["access_token"]
        if sent:
            request.headers["Authorization"] = f"Bearer {sent}"
        response = yield request
        if response.status_code != 401:
            return
        with self._lock:
            pair = self._pair()
            fresh = pair["access_token"]
            if not fresh or fresh == sent:  # nobody refreshed since this request was sent
                reply = yield self._refresh_request(pair["refresh_token"])
                fresh = self._store(reply, pair)
        request.headers["Authorization"] = f"Bearer {fresh}"
        yield request

    def _refresh_request(self, refresh_token: str | None) -> httpx.Request:
        client_id, secret = self.client
        if not (refresh_token and client_id and secret):
            raise AuthError(f"{self.label}: access token rejected (401) and no refresh_token, "
                            "client_id and client_secret to refresh it", status=401)
        form = {"grant_type": "refresh_token", "client_id": client_id,
                "client_secret": secret, "refresh_token": refresh_token}
        return httpx.Request("POST", self.refresh_url, data=form,
                             headers={"Accept": "application/json"})

    def _store(self, reply: httpx.Response, old: dict[str, str | None]) -> str:
        try:
            body = reply.json() if reply.status_code == 200 else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body.get("access_token"):
            raise AuthError(f"{self.label}: refreshing the OAuth2 token failed "
                            f"(HTTP {reply.status_code})", status=reply.status_code)
        pair = {"access_token": str(body["access_token"]),
                "refresh_token": str(body.get("refresh_token") or old["refresh_token"]),
                "origin": self._origin}
        self.tokens.save(pair)
        return pair["access_token"]


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    return str(body.get("message") if isinstance(body, dict) else body)[:300]


class LoginTokenAuth(httpx.Auth):
    """Bearer token from a login call: made lazily, and once more after a 401.

    Example (Happyoffer, Laravel Sanctum): `POST {login_url}` with
    `{"email": "…", "password": "…"}` → `{"data": {"token": {"token": "12|abc…"}}}`, read by
    `token_from(body)`. A static `token` (or one an earlier run stored) is used first;
    without `credentials` a 401 is final. A login answered 429/5xx is transient (retried
    by the client); any other failure is an `AuthError` carrying the vendor's message.
    """

    requires_response_body = True

    def __init__(
        self,
        login_url: str,
        tokens: TokenStore,
        *,
        token: str | None,
        credentials: dict[str, str] | None,
        token_from: Callable[[Any], Any],
        label: str = "login",
        message_of: Callable[[httpx.Response], str] = _message,
        missing: str = "no token and no login credentials in [accounts.auth]",
    ) -> None:
        self.login_url = login_url
        self.tokens = tokens
        self.static_token = token
        self.credentials = credentials or None
        self.token_from = token_from
        self.label = label
        self.message_of = message_of
        self.missing = missing
        self.token: str | None = None
        self._loaded = False
        self._lock = threading.Lock()

    def auth_flow(self, request: httpx.Request) -> Flow:
        """Send the session token, logging in first when there is none or the vendor rejects it."""
        with self._lock:
            if not self._loaded:  # lazily: a token saved by an earlier run beats the static one
                self.token = (self.tokens.load() or {}).get("token") or self.static_token
                self._loaded = True
            if self.token is None:
                yield from self._login()
            sent = self.token
        request.headers["Authorization"] = f"Bearer {sent}"
        response = yield request
        if response.status_code != 401 or self.credentials is None:
            return
        with self._lock:
            if self.token == sent:  # nobody logged in again since this request was sent
                yield from self._login()
            fresh = self.token
        request.headers["Authorization"] = f"Bearer {fresh}"
        yield request

    def _login(self) -> Flow:
        if self.credentials is None:
            raise AuthError(f"{self.label}: {self.missing}")
        response = yield httpx.Request("POST", self.login_url, json=self.credentials,
                                       headers={"Accept": "application/json"})
        status = response.status_code
        if status == 429 or status >= 500:
            retry = response.headers.get("Retry-After")
            raise TransientVendorError(
                f"{self.label} login: HTTP {status}", status=status,
                retry_after=float(retry) if retry and retry.isdigit() else None)
        try:
            token = self.token_from(response.json()) if status == 200 else None
        except (ValueError, KeyError, TypeError, IndexError):
            token = None
        if not isinstance(token, str) or not token:
            message = self.message_of(response)
            raise AuthError(f"{self.label} login refused: {message}", status=status, body=message)
        self.token = token
        self.tokens.save({"token": token})

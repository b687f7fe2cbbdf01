"""syncd.http.auth: one httpx.Auth per scheme, driven through `httpx.MockTransport` vendors."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from syncd.errors import AuthError, TransientVendorError
from syncd.http.auth import (
    BearerAuth,
    HeaderKeyAuth,
    LoginTokenAuth,
    OAuth2RefreshAuth,
)

API = "https://vendor.example.com/api"
OAUTH = "https://acme.vendor.example.com"
CLIENT_SECRET = "client-secret-0xdeadbeef"
PASSWORD = "hunter2-password"


class DictTokens:
    """An in-memory TokenStore that records every save."""

    def __init__(self, pair: dict[str, str] | None = None) -> None:
        self.pair = pair
        self.saved: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def load(self) -> dict[str, str] | None:
        with self.lock:
            return dict(self.pair) if self.pair else None

    def save(self, tokens: dict[str, str]) -> None:
        with self.lock:
            self.pair = dict(tokens)
            self.saved.append(dict(tokens))


def hold(gate: threading.Barrier | None, status: int) -> None:
    """Answer 401s only once all concurrent requests have been sent (a real race)."""
    if gate is not None and status == 401:
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait(timeout=2)


class OAuthVendor:
    """Accepts one access token; the refresh grant issues a new pair and spends the old one."""

    def __init__(self, access: str = "acc-1", refresh: str = "ref-1", slow: float = 0.0,
                 gate: threading.Barrier | None = None) -> None:
        self.access, self.refresh, self.slow = access, refresh, slow
        self.gate = gate  # 401s wait here until every concurrent request has one
        self.seen: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()
        self.issued = 1

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/refresh-token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            time.sleep(self.slow)
            with self.lock:
                ok = (form.get("refresh_token") == self.refresh
                      and form.get("client_secret") == CLIENT_SECRET)
                if ok:
                    self.issued += 1
                    self.access, self.refresh = f"acc-{self.issued}", f"ref-{self.issued}"
                self.seen.append(("POST", request.url.path, 200 if ok else 400))
                body = {"access_token": self.access, "refresh_token": self.refresh} if ok else {}
            return httpx.Response(200 if ok else 400, json=body)
        with self.lock:
            status = 200 if request.headers.get("authorization") == f"Bearer {self.access}" else 401
            self.seen.append((request.method, request.url.path, status))
        hold(self.gate, status)
        return httpx.Response(status, json={"ok": status == 200})


def oauth(tokens: DictTokens, access: str = "acc-1", refresh: str | None = "ref-1",
          secret: str | None = CLIENT_SECRET) -> OAuth2RefreshAuth:
    return OAuth2RefreshAuth(tokens, access_token=access, refresh_token=refresh,
                             client_id="cid", client_secret=secret, oauth_url=OAUTH,
                             label="acme")


def client(auth: httpx.Auth, handler: Any) -> httpx.Client:
    return httpx.Client(base_url=API, auth=auth, transport=httpx.MockTransport(handler))


class TestStaticKeys:
    @pytest.mark.parametrize(("auth", "header", "value"), [
        (HeaderKeyAuth("x-api-key", "qq-key"), "x-api-key", "qq-key"),
        (HeaderKeyAuth("Authorization", "raw-key"), "authorization", "raw-key"),
        (HeaderKeyAuth("Authorization", "tok", prefix="Token "), "authorization", "Token tok"),
        (BearerAuth("sb-key"), "authorization", "Bearer sb-key"),
    ], ids=["quickquote_x_api_key", "offorte_v2_raw", "prefix", "bearer"])
    def test_every_request_carries_the_key(self, auth: httpx.Auth, header: str, value: str) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200)

        with client(auth, handler) as http:
            http.get("/a")
            http.post("/b", json={})
        assert [r.headers[header] for r in seen] == [value, value]


class TestOAuth2RefreshAuth:
    def test_a_valid_token_is_sent_without_refreshing(self) -> None:
        vendor, tokens = OAuthVendor(), DictTokens()
        with client(oauth(tokens), vendor) as http:
            assert http.get("/things").status_code == 200
        assert vendor.seen == [("GET", "/api/things", 200)] and tokens.saved == []

    def test_401_refreshes_once_persists_and_resends(self) -> None:
        vendor, tokens = OAuthVendor(access="acc-live"), DictTokens()
        with client(oauth(tokens, access="acc-expired"), vendor) as http:
            assert http.get("/things").status_code == 200
        assert vendor.seen == [("GET", "/api/things", 401), ("POST", "/oauth2/refresh-token", 200),
                               ("GET", "/api/things", 200)]
        (pair,) = tokens.saved
        assert (pair["access_token"], pair["refresh_token"]) == ("acc-2", "ref-2")
        assert pair["origin"] and "acc-expired" not in pair["origin"]

    def test_the_stored_pair_is_used_by_the_next_request(self) -> None:
        vendor, tokens = OAuthVendor(access="acc-live"), DictTokens()
        auth = oauth(tokens, access="acc-expired")
        with client(auth, vendor) as http:
            http.get("/one")
            http.get("/two")
        assert vendor.seen[-1] == ("GET", "/api/two", 200)
        assert len(tokens.saved) == 1

    def test_a_second_401_reaches_the_caller(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/oauth2/refresh-token":
                return httpx.Response(200, json={"access_token": "new", "refresh_token": "r2"})
            return httpx.Response(401)

        calls: list[str] = []
        with client(oauth(DictTokens()), lambda r: (calls.append(r.url.path), handler(r))[1]) as http:
            assert http.get("/x").status_code == 401
        assert calls == ["/api/x", "/oauth2/refresh-token", "/api/x"]

    def test_a_pair_stored_for_other_settings_is_ignored(self) -> None:
        """The user re-authorised in settings.toml: the new settings pair wins."""
        vendor = OAuthVendor(access="acc-settings")
        tokens = DictTokens({"access_token": "acc-old", "refresh_token": "ref-old",
                             "origin": "another-settings-pair"})
        with client(oauth(tokens, access="acc-settings"), vendor) as http:
            assert http.get("/x").status_code == 200
        assert vendor.seen == [("GET", "/api/x", 200)]

    def test_failed_refresh_raises_auth_error_without_secrets(self) -> None:
        vendor = OAuthVendor(access="acc-live", refresh="ref-other")
        with client(oauth(DictTokens(), access="acc-expired"), vendor) as http, \
                pytest.raises(AuthError) as caught:
            http.get("/x")
        message = str(caught.value)
        assert "HTTP 400" in message and message.startswith("acme:")
        for secret in (CLIENT_SECRET, "ref-1", "acc-expired", "acc-live"):
            assert secret not in message

    def test_no_refresh_credentials_is_an_auth_error(self) -> None:
        with client(oauth(DictTokens(), access="x", secret=None), OAuthVendor()) as http, \
                pytest.raises(AuthError, match="no refresh_token"):
            http.get("/x")

    def test_concurrent_401s_refresh_once(self) -> None:
        vendor = OAuthVendor(access="acc-live", slow=0.05, gate=threading.Barrier(8))
        tokens = DictTokens()
        auth = oauth(tokens, access="acc-expired")
        statuses: list[int] = []
        start = threading.Barrier(8)

        def work() -> None:
            with client(auth, vendor) as http:
                start.wait()
                statuses.append(http.get("/x").status_code)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [200] * 8
        assert [s[2] for s in vendor.seen if s[0] == "GET"][:8] == [401] * 8  # all raced
        assert [s for s in vendor.seen if s[1] == "/oauth2/refresh-token"] == [
            ("POST", "/oauth2/refresh-token", 200)]
        assert len(tokens.saved) == 1


class LoginVendor:
    """Sanctum-style: POST /login with the right password issues a new token."""

    def __init__(self, valid: str | None = None, login_status: int = 200,
                 gate: threading.Barrier | None = None) -> None:
        self.valid, self.login_status, self.gate = valid, login_status, gate
        self.seen: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()
        self.logins = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            if request.url.path == "/api/login":
                time.sleep(0.02)
                self.logins += 1
                ok = b'"password":"' + PASSWORD.encode() + b'"' in request.content.replace(b" ", b"")
                status = self.login_status if ok else 422
                self.seen.append(("POST", request.url.path, status))
                if status == 200:
                    self.valid = f"{self.logins}|tok"
                    return httpx.Response(200, json={"data": {"token": {"token": self.valid}}})
                return httpx.Response(status, json={"message": "These credentials do not match."})
            status = 200 if request.headers.get("authorization") == f"Bearer {self.valid}" else 401
            self.seen.append((request.method, request.url.path, status))
        hold(self.gate, status)
        return httpx.Response(status, json={})


def login_auth(tokens: DictTokens, *, token: str | None = None,
               password: str | None = PASSWORD) -> LoginTokenAuth:
    return LoginTokenAuth(
        f"{API}/login", tokens, token=token,
        credentials={"email": "me@example.com", "password": password} if password else None,
        token_from=lambda body: body["data"]["token"]["token"], label="acme")


class TestLoginTokenAuth:
    def test_logs_in_lazily_and_persists_the_token(self) -> None:
        vendor, tokens = LoginVendor(), DictTokens()
        with client(login_auth(tokens), vendor) as http:
            assert http.get("/offers").status_code == 200
            assert http.get("/offers").status_code == 200
        assert vendor.seen == [("POST", "/api/login", 200), ("GET", "/api/offers", 200),
                               ("GET", "/api/offers", 200)]
        assert tokens.saved == [{"token": "1|tok"}]

    def test_a_stored_token_beats_the_static_one(self) -> None:
        vendor = LoginVendor(valid="stored")
        with client(login_auth(DictTokens({"token": "stored"}), token="static"), vendor) as http:
            assert http.get("/offers").status_code == 200
        assert vendor.seen == [("GET", "/api/offers", 200)]

    def test_logs_in_again_once_after_a_401(self) -> None:
        vendor = LoginVendor(valid="other")
        with client(login_auth(DictTokens(), token="expired"), vendor) as http:
            assert http.get("/offers").status_code == 200
        assert vendor.seen == [("GET", "/api/offers", 401), ("POST", "/api/login", 200),
                               ("GET", "/api/offers", 200)]

    def test_static_token_without_credentials_fails_on_401(self) -> None:
        vendor = LoginVendor(valid="other")
        with client(login_auth(DictTokens(), token="expired", password=None), vendor) as http:
            assert http.get("/offers").status_code == 401
        assert vendor.seen == [("GET", "/api/offers", 401)]

    def test_no_token_and_no_credentials_is_an_auth_error(self) -> None:
        with client(login_auth(DictTokens(), password=None), LoginVendor()) as http, \
                pytest.raises(AuthError, match="acme: no token"):
            http.get("/offers")

    @pytest.mark.parametrize(("status", "error"), [(422, AuthError), (503, TransientVendorError),
                                                   (429, TransientVendorError)])
    def test_a_refused_login_raises_without_the_password(self, status: int, error: type) -> None:
        vendor = LoginVendor(login_status=status)
        with client(login_auth(DictTokens()), vendor) as http, pytest.raises(error) as caught:
            http.get("/offers")
        assert PASSWORD not in str(caught.value)
        if status == 422:
            assert "These credentials do not match." in str(caught.value)

    def test_concurrent_401s_log_in_once(self) -> None:
        vendor, tokens = LoginVendor(valid="fresh", gate=threading.Barrier(6)), DictTokens()
        auth = login_auth(tokens, token="expired")
        statuses: list[int] = []
        start = threading.Barrier(6)

        def work() -> None:
            with client(auth, vendor) as http:
                start.wait()
                statuses.append(http.get("/offers").status_code)

        threads = [threading.Thread(target=work) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [200] * 6
        assert [s[2] for s in vendor.seen if s[0] == "GET"][:6] == [401] * 6  # all raced
        assert vendor.logins == 1 and len(tokens.saved) == 1

"""syncd.http.redaction: what a secret is, and that it is masked in URLs, headers and text."""

from __future__ import annotations

import pytest

from syncd.http.redaction import (
    MASK,
    Redactor,
    endpoint_of,
    is_secret_key,
    redact_headers,
    redact_url,
)


@pytest.mark.parametrize(("url", "shown"), [
    ("https://api.example.com/v1/quotes?page=2&api_key=abc123",
     "https://api.example.com/v1/quotes?page=2&api_key=%2A%2A%2A"),
    ("https://user:pw@api.example.com:8443/x?Token=t", "https://api.example.com:8443/x?Token=%2A%2A%2A"),
    ("http://127.0.0.1:8900/api", "http://127.0.0.1:8900/api"),
])
def test_redact_url_masks_secret_params_and_drops_userinfo(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_headers_masks_the_common_and_the_declared_ones() -> None:
    headers = {"Authorization": "Bearer t", "X-API-Key": "k", "Accept": "application/json",
               "X-Signature": "s"}
    assert redact_headers(headers) == {"Authorization": MASK, "X-API-Key": MASK,
                                       "Accept": "application/json", "X-Signature": "s"}
    assert redact_headers(headers, frozenset({"x-signature"}))["X-Signature"] == MASK


@pytest.mark.parametrize(("path", "endpoint"), [
    ("/quotes/123", "/quotes/{id}"),
    ("quotes/123/items?page=2", "/quotes/{id}/items"),
    ("/offers/0b7e9c52-3f1a-4d2e-9a6b-1c2d3e4f5a6b", "/offers/{id}"),
    ("/v1/proposals", "/v1/proposals"),
    ("/companies/abcdefghij", "/companies/abcdefghij"),  # ten letters: a word, not an id
])
def test_endpoint_of_replaces_ids(path: str, endpoint: str) -> None:
    assert endpoint_of(path) == endpoint


def test_redactor_masks_known_secrets_but_not_short_ones() -> None:
    redact = Redactor(["s3cr3t-token", "ab"])
    redact.add("other-secret")
    redact.add(None)
    assert redact("sent s3cr3t-token and other-secret, ab stays") == f"sent {MASK} and {MASK}, ab stays"
    assert redact.secrets == ["s3cr3t-token", "other-secret"]


@pytest.mark.parametrize(("key", "secret"), [
    ("access_token", True), ("api_key", True), ("client_secret", True), ("password", True),
    ("external_user_token", True), ("webhook_signature", True),
    ("oauth_url", False), ("email", False), ("client_id", False), ("offer_template_id", False),
])
def test_is_secret_key(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret

"""`--log-format json`: one JSON object per line with account/stream/run id; no secrets."""

from __future__ import annotations

import json
import logging

import pytest

from syncd import logs


def test_json_logs_carry_context_and_mask_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("json")
    logs.REDACT.add("sk-very-secret-value")
    logging.getLogger("syncd.pull").warning(
        "account=a refresh failed with token sk-very-secret-value",
        extra={"account": "a", "stream": "quotes", "run_id": "r1"})
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["account"] == "a" and record["stream"] == "quotes" and record["run_id"] == "r1"
    assert "sk-very-secret-value" not in line and "***" in record["message"]
    logging.getLogger().handlers.clear()


@pytest.mark.parametrize(("key", "secret"), [
    ("access_token", True), ("refresh_token", True), ("client_secret", True), ("api_key", True),
    ("password", True), ("token", True), ("external_user_token", True),
    ("oauth_url", False), ("offer_pdf_url", False), ("email", False), ("client_id", False),
    ("offer_template_id", False),
])
def test_only_secret_auth_keys_are_masked(key: str, secret: bool) -> None:
    """An address or a user name in `[accounts.auth]` stays readable: masking the OAuth host
    blanked every Offorte URL in the log."""
    from syncd.http.redaction import is_secret_key

    assert is_secret_key(key) is secret

"""Keeping secrets out of logs, errors and the CLI: one place that knows what a secret is."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SENSITIVE_PARAMS = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "refresh_token", "client_secret",
     "password", "secret", "signature"}
)
# a vendor's own secret headers (a webhook signature) are declared by its connector
# (`Connector.secret_headers`, collected by `syncd.vendors.secret_headers()`)
SENSITIVE_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "set-cookie"})
MASK = "***"


def redact_url(url: str) -> str:
    """The URL with secret query values masked (and userinfo dropped)."""
    parts = urlsplit(str(url))
    query = urlencode(
        [(k, MASK if k.lower() in SENSITIVE_PARAMS else v) for k, v in parse_qsl(parts.query)]
    )
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_headers(headers: dict[str, str], secret: frozenset[str] = frozenset()
                   ) -> dict[str, str]:
    """The headers with secret values masked: the common ones and the lower-case `secret`
    names the caller adds (the vendors' own, from `syncd.vendors.secret_headers()`).
    """
    hidden = SENSITIVE_HEADERS | secret
    return {k: MASK if k.lower() in hidden else v for k, v in headers.items()}


def endpoint_of(path: str) -> str:
    """A low-cardinality name for a path (ids replaced), for accounting and metrics."""
    parts = []
    for part in path.split("?")[0].strip("/").split("/"):
        if re.fullmatch(r"[0-9]+|[0-9a-fA-F-]{16,}|[A-Za-z0-9]{10}", part) and not part.isalpha():
            parts.append("{id}")
        else:
            parts.append(part)
    return "/" + "/".join(parts)


class Redactor:
    """Masks known secret values wherever they appear in a text (last line of defence)."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self.secrets = [s for s in (secrets or []) if s and len(s) >= 4]

    def add(self, secret: str | None) -> None:
        """Remember a secret to mask, ignoring ones too short to mask without hiding ordinary text."""
        if secret and len(secret) >= 4 and secret not in self.secrets:
            self.secrets.append(secret)

    def __call__(self, text: str) -> str:
        """The text with every known secret replaced by the mask."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


# words that make a settings key a secret: `access_token`, `api_key`, `client_secret`,
# `password`, `external_user_token` ...
SECRET_KEY_WORDS = ("token", "secret", "password", "key", "signature")


def is_secret_key(name: str) -> bool:
    """Whether a settings key (an `[accounts.auth]` entry) holds a secret, whose value is then
    masked in every log line and message. Addresses and names are not secrets (`oauth_url`,
    `email`, `client_id`, `offer_template_id`): masking an OAuth host would blank every URL
    of the vendor in the log, and hide nothing an attacker needs.
    """
    lowered = name.lower()
    return not lowered.endswith("_url") and any(word in lowered for word in SECRET_KEY_WORDS)

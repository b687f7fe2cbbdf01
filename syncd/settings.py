"""Settings: `settings.toml` validated with pydantic; every error names its key (exit 2).

Any string may contain `${ENV_VAR}`; an unset variable is an error naming the variable
and the key. Secrets are `SecretStr` so they never print; `base_url` must be https unless
it points at a loopback address (the bundled sandboxes).
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from syncd.canonical import ProposalStatus
from syncd.errors import SettingsError
from syncd.http.redaction import is_secret_key
from syncd.netloc import check_url
from syncd.vendors import CONNECTORS, registered_vendors
from syncd.vendors.base import VendorOptions

log = logging.getLogger("syncd.settings")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class DatabaseSettings(BaseModel):
    """Where the mirror lives."""
    model_config = ConfigDict(extra="forbid")
    url: str = Field(default="sqlite:///syncd.db", repr=False)  # may hold a password
    # PostgreSQL: connections one syncd process opens at most (plus one for LISTEN); keep
    # workers x (pool_size + 1) under the server's max_connections
    pool_size: int = Field(default=20, ge=2, le=500)


class SyncSettings(BaseModel):
    """How often syncd pulls and pushes, and who wins a conflict."""
    model_config = ConfigDict(extra="forbid")
    pull_interval_seconds: int = Field(default=300, ge=1)
    push_interval_seconds: int = Field(default=10, ge=1)
    full_sweep_hours: float = Field(default=24, gt=0)
    # PostgreSQL workers: a dead worker's accounts are taken over this long after its last
    # renewal (renewed every third of it, at most every 5 s)
    lease_ttl_seconds: float = Field(default=30, ge=1)
    conflict_policy: Literal["manual", "remote_wins", "local_wins", "newest_wins"] = "manual"


class WebhookSettings(BaseModel):
    """Where the webhook receiver listens and the address vendors call it on."""
    model_config = ConfigDict(extra="forbid")
    listen: str = "127.0.0.1:8787"
    public_url: str = ""

    @field_validator("public_url")
    @classmethod
    def _https(cls, value: str) -> str:
        return check_url(value) if value else value


class AccountSettings(BaseModel):
    """One vendor account. `auth` keys are vendor-specific (interface.md), and so are the
    keys of the vendor's options model (`Connector.options_model`, e.g. Offorte's
    `api_version`): written flat in the `[[accounts]]` table, validated into `options`.
    Options a model took over from `auth` (`VendorOptions.moved_from_auth`, Happyoffer's
    create keys) are still read there when the entry lacks them, with a warning.
    """

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    vendor: str
    base_url: str
    requests_per_minute: int = Field(default=30, ge=1)
    allow_delete: bool = False
    page_size: int | None = Field(default=None, ge=1)
    timeout_seconds: float = Field(default=30.0, gt=0)
    webhook_secret: SecretStr | None = None
    paths: dict[str, str] = Field(default_factory=dict)
    auth: dict[str, SecretStr] = Field(default_factory=dict)
    # vendor word -> canonical status; beats the connector's built-in table
    status_map: dict[str, ProposalStatus] = Field(default_factory=dict)
    # element/line types (beyond the connector's own) that count as priced line items
    line_item_types: list[str] = Field(default_factory=list)
    # the guard against false mass deletion: a complete scan that would mark more than this
    # fraction of an entity's live rows deleted marks none and holds them as pending
    max_delete_fraction: float = Field(default=0.1, ge=0, le=1)
    # who applies held deletions: `syncd deletes confirm` only, or also the next complete
    # scan that finds the same records missing again
    confirm_deletes: Literal["manual", "second_sweep"] = "manual"
    currency: str | None = Field(
        default=None, pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code given to this account's proposals whose vendor record "
                    "carries no currency (some vendors' APIs send none), so the "
                    "reporting views can group their totals by currency; a currency the "
                    "vendor does send always wins.")
    # the keys only this account's vendor reads (its connector's `options_model`)
    options: VendorOptions = Field(default_factory=VendorOptions)

    @model_validator(mode="before")
    @classmethod
    def _gather_options(cls, data: Any) -> Any:
        """Move the keys the vendor's options model declares under `options`: the file
        keeps writing them in `[[accounts]]`; any other unknown key stays an error.
        """
        if not isinstance(data, dict) or "options" in data:
            return data
        connector = CONNECTORS.get(str(data.get("vendor")))
        model = connector.options_model if connector else VendorOptions
        ours = {k for k in data if k in model.model_fields and k not in cls.model_fields}
        rest, options = _moved_from_auth({k: v for k, v in data.items() if k not in ours},
                                         model.moved_from_auth, {k: data[k] for k in ours})
        return {**rest, "options": options}

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        return check_url(value)

    @field_validator("vendor")
    @classmethod
    def _known_vendor(cls, value: str) -> str:
        if value not in CONNECTORS:
            known = ", ".join(registered_vendors())
            raise ValueError(f"unknown vendor {value!r}; known vendors: {known}")
        return value

    @field_validator("options", mode="before")
    @classmethod
    def _vendor_options(cls, value: Any, info: ValidationInfo) -> Any:
        """Validate the options by the vendor's own model. A bad value is a `SettingsError`
        naming the key as the file spells it (`accounts[NAME].api_version`), also for an
        `AccountSettings` built in code, as the connectors' own settings checks do.
        """
        connector = CONNECTORS.get(info.data.get("vendor", ""))
        if connector is None or isinstance(value, connector.options_model):
            return value
        try:
            return connector.options_model.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = _key_of((f"accounts[{info.data.get('name', '?')}]", *first["loc"]))
            raise SettingsError(key, first["msg"]) from None

    @field_validator("auth")
    @classmethod
    def _auth_urls_https(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for key, secret in value.items():
            if key.endswith("_url"):  # e.g. Offorte's oauth_url: tokens travel there
                try:
                    check_url(secret.get_secret_value())
                except ValueError as exc:
                    raise ValueError(f"auth.{key}: {exc}") from None
        return value

    def secret_values(self) -> list[str]:
        """Every secret value the account holds, for masking in logs and messages: the
        secret-looking `[accounts.auth]` keys, `webhook_secret` and the vendor's secret options.
        """
        found = [v.get_secret_value() for k, v in self.auth.items() if is_secret_key(k)]
        if self.webhook_secret is not None:
            found.append(self.webhook_secret.get_secret_value())
        return [s for s in found + self.options.secrets() if s]

    def secret(self, key: str, default: str | None = None) -> str | None:
        """The plain value of one auth key (only auth plug-ins should call this)."""
        value = self.auth.get(key)
        return value.get_secret_value() if value is not None else default

    def path(self, name: str, default: str) -> str:
        """An endpoint path, overridable per account in `[accounts.paths]`."""
        return self.paths.get(name, default)


def _moved_from_auth(entry: dict[str, Any], moved: frozenset[str], options: dict[str, Any],
                     ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The entry and its options once the options older files keep in `[accounts.auth]`
    are taken out of it (the entry's own key wins), with one warning line per key.
    """
    auth = entry.get("auth")
    if not isinstance(auth, dict) or not (found := sorted(moved & auth.keys())):
        return entry, options
    where = f"accounts[{entry.get('name', '?')}]"
    taken: dict[str, Any] = {}
    for key in found:
        if key in options:
            log.warning("%s: auth.%s is ignored: the entry's own `%s` wins (delete the "
                        "[accounts.auth] one)", where, key, key)
            continue
        log.warning("%s: auth.%s is deprecated: move `%s` into the [[accounts]] entry itself "
                    "(read from [accounts.auth] until then)", where, key, key)
        value = auth[key]
        taken[key] = value.get_secret_value() if isinstance(value, SecretStr) else value
    kept = {k: v for k, v in auth.items() if k not in moved}
    return {**entry, "auth": kept}, {**options, **taken}


class Settings(BaseSettings):
    """The whole settings file. Environment `SYNCD_DATABASE__URL` overrides the file."""

    model_config = SettingsConfigDict(
        env_prefix="SYNCD_", env_nested_delimiter="__", extra="forbid"
    )
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    accounts: list[AccountSettings] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(cls, settings_cls: Any, init_settings: Any, env_settings: Any,
                                   dotenv_settings: Any, file_secret_settings: Any) -> tuple[Any, ...]:
        """The environment overrides the file (values from the file arrive as init kwargs)."""
        return env_settings, init_settings

    def account(self, name: str) -> AccountSettings:
        """The named account's settings, or an error that lists the known names."""
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts) or "none"
        raise SettingsError("accounts", f"no account named {name!r} (known: {known})")

    def selected(self, names: list[str] | None) -> list[AccountSettings]:
        """The accounts a command works on: the named ones, or all of them."""
        return [self.account(n) for n in names] if names else list(self.accounts)


def _expand(value: Any, key: str) -> Any:
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            var = match.group(1)
            if var not in os.environ:
                raise SettingsError(key, f"environment variable {var} is not set")
            return os.environ[var]

        return _ENV_REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: _expand(v, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def _key_of(loc: tuple[Any, ...]) -> str:
    """The settings key a pydantic error location names, as the file spells it
    (`accounts[0].auth.api_key`).
    """
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(parts)


def settings_from_dict(data: dict[str, Any]) -> Settings:
    """Validate an already-parsed settings mapping (after `${VAR}` expansion)."""
    expanded = _expand(data, "")
    try:
        settings = Settings(**expanded)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SettingsError(_key_of(tuple(first["loc"])), first["msg"]) from None
    names = [a.name for a in settings.accounts]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise SettingsError("accounts.name", f"duplicate account name(s): {sorted(dupes)}")
    return settings


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read and validate settings; raises `SettingsError` (exit 2) naming the bad key."""
    chosen = Path(path or os.environ.get("SYNCD_CONFIG") or "settings.toml")
    if not chosen.exists():
        raise SettingsError("--config", f"settings file {chosen} does not exist")
    try:
        data = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(str(chosen), f"not valid TOML: {exc}") from None
    return settings_from_dict(data)

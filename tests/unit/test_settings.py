"""syncd.settings: validation names the key, `${VAR}` expansion, https only, no secret leaks.

settings.example.toml and the README name every key each vendor reads, and the example
loads as it stands (its `${VARS}` set): what a user copies must work.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from syncd.errors import SettingsError
from syncd.settings import load_settings, settings_from_dict
from syncd.vendors import connector_class, registered_vendors

SECRET = "TOPSECRET-4f1b2c9d"
SYNCD = Path(sys.executable).with_name("syncd")


def account(**over: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": "qq", "vendor": "quickquote", "base_url": "https://api.example.com/v1",
        "auth": {"api_key": SECRET},
    }
    entry.update(over)
    return entry


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


VALID = f"""
    [database]
    url = "sqlite:///syncd.db"

    [sync]
    pull_interval_seconds = 120
    conflict_policy = "remote_wins"

    [[accounts]]
    name = "offorte-main"
    vendor = "offorte"
    base_url = "https://connect.offorte.com/api/v1/acme/"
    requests_per_minute = 30
    [accounts.auth]
    access_token = "{SECRET}"

    [[accounts]]
    name = "qq"
    vendor = "quickquote"
    base_url = "http://127.0.0.1:8900/api/v1"
    allow_delete = true
    [accounts.auth]
    api_key = "${{QQ_KEY}}"
"""


class TestLoadSettings:
    def test_valid_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("QQ_KEY", "from-env-key")
        settings = load_settings(write(tmp_path, VALID))
        assert settings.database.url == "sqlite:///syncd.db"
        assert settings.sync.pull_interval_seconds == 120
        assert settings.sync.conflict_policy == "remote_wins"
        assert [a.name for a in settings.accounts] == ["offorte-main", "qq"]
        offorte, qq = settings.accounts
        assert offorte.base_url == "https://connect.offorte.com/api/v1/acme"  # trailing / gone
        assert offorte.secret("access_token") == SECRET
        assert qq.allow_delete is True and offorte.allow_delete is False
        assert qq.secret("api_key") == "from-env-key"
        assert settings.account("qq") is qq

    def test_env_var_expanded_inside_a_longer_string(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TENANT", "acme")
        settings = settings_from_dict(
            {"accounts": [account(base_url="https://connect.offorte.com/api/v1/${TENANT}")]})
        assert settings.accounts[0].base_url == "https://connect.offorte.com/api/v1/acme"

    def test_unset_env_var_names_the_variable_and_the_key(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("SYNCD_TEST_UNSET_VAR", raising=False)
        with pytest.raises(SettingsError) as info:
            settings_from_dict({"accounts": [account(auth={"api_key": "${SYNCD_TEST_UNSET_VAR}"})]})
        assert "SYNCD_TEST_UNSET_VAR" in str(info.value)
        assert info.value.key == "accounts[0].auth.api_key"
        assert info.value.exit_code == 2

    def test_missing_file_is_a_settings_error(self, tmp_path: Path) -> None:
        with pytest.raises(SettingsError, match="does not exist"):
            load_settings(tmp_path / "nope.toml")

    def test_invalid_toml_is_a_settings_error(self, tmp_path: Path) -> None:
        with pytest.raises(SettingsError, match="not valid TOML"):
            load_settings(write(tmp_path, "[[accounts]\nname = "))

    @pytest.mark.parametrize(
        ("data", "key"),
        [
            ({"accounts": [account(vendor="salesforce")]}, "accounts[0].vendor"),
            ({"accounts": [account(requests_per_minute=0)]}, "accounts[0].requests_per_minute"),
            ({"accounts": [account(), account(name="b", colour="red")]}, "accounts[1].colour"),
            ({"sync": {"conflict_policy": "coin_flip"}}, "sync.conflict_policy"),
            ({"database": {"pool_size": 1}}, "database.pool_size"),
            ({"webhooks": {"public_url": "http://hooks.example.com"}}, "webhooks.public_url"),
        ],
    )
    def test_errors_name_the_key(self, data: dict[str, Any], key: str) -> None:
        with pytest.raises(SettingsError) as info:
            settings_from_dict(data)
        assert info.value.key == key
        assert key in str(info.value)

    def test_unknown_account_lists_the_known_ones(self) -> None:
        settings = settings_from_dict({"accounts": [account()]})
        with pytest.raises(SettingsError, match="known: qq"):
            settings.account("other")

    def test_env_overrides_database_url_of_the_file(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # settings.py: "Environment `SYNCD_DATABASE__URL` overrides the file."
        monkeypatch.setenv("SYNCD_DATABASE__URL", "sqlite:///from-env.db")
        settings = settings_from_dict({"database": {"url": "sqlite:///from-file.db"}})
        assert settings.database.url == "sqlite:///from-env.db"


class TestBaseUrl:
    @pytest.mark.parametrize(
        "url",
        [
            "http://vendor.example.com/api",
            "http://10.0.0.5:8080",
            "http://127.0.0.1.evil.example/api",
            "ftp://127.0.0.1/api",
            "https://",
            "not a url",
        ],
    )
    def test_rejected(self, url: str) -> None:
        with pytest.raises(SettingsError) as info:
            settings_from_dict({"accounts": [account(base_url=url)]})
        assert info.value.key == "accounts[0].base_url"
        assert "accounts[0].base_url" in str(info.value)

    def test_rejection_names_the_right_account(self) -> None:
        with pytest.raises(SettingsError) as info:
            settings_from_dict({"accounts": [account(), account(name="b", base_url="http://x.io")]})
        assert info.value.key == "accounts[1].base_url"

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8900/api/v1",
            "http://127.5.6.7",
            "http://localhost:3000",
            "http://[::1]:8000/x",
            "https://api.example.com",
        ],
    )
    def test_allowed(self, url: str) -> None:
        settings = settings_from_dict({"accounts": [account(base_url=url)]})
        assert settings.accounts[0].base_url == url.rstrip("/")


class TestAccounts:
    def test_duplicate_names_rejected(self) -> None:
        with pytest.raises(SettingsError, match="duplicate") as info:
            settings_from_dict({"accounts": [account(), account(vendor="automa")]})
        assert "qq" in str(info.value)
        assert info.value.key.startswith("accounts")

    @pytest.mark.parametrize("name", ["", "has space", "semi;colon"])
    def test_bad_names_rejected(self, name: str) -> None:
        with pytest.raises(SettingsError) as info:
            settings_from_dict({"accounts": [account(name=name)]})
        assert info.value.key == "accounts[0].name"


class TestSecrets:
    def test_never_in_repr_or_str(self) -> None:
        settings = settings_from_dict({"accounts": [account(webhook_secret="whsec-" + SECRET)]})
        for text in (repr(settings), str(settings), repr(settings.accounts[0]),
                     str(settings.accounts[0].auth), settings.model_dump_json()):
            assert SECRET not in text
        assert settings.accounts[0].secret("api_key") == SECRET

    def test_database_password_never_in_repr(self) -> None:
        settings = settings_from_dict({"database": {"url": f"postgresql://u:{SECRET}@db/x"}})
        assert SECRET not in repr(settings)
        assert SECRET not in str(settings)
        assert settings.database.url.endswith("@db/x")


class TestCli:
    """`syncd --config bad.toml status`: exit 2, key named, secret never printed."""

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "COLUMNS": "250", **(env or {})}
        full_env.pop("SYNCD_CONFIG", None)
        return subprocess.run([str(SYNCD), *args], capture_output=True, text=True,
                              env=full_env, timeout=60)

    def test_bad_base_url_exits_2_naming_the_key(self, tmp_path: Path) -> None:
        path = write(tmp_path, f"""
            [database]
            url = "sqlite:///{tmp_path}/m.db"
            [[accounts]]
            name = "qq"
            vendor = "quickquote"
            base_url = "http://vendor.example.com/api"
            [accounts.auth]
            api_key = "{SECRET}"
        """)
        done = self.run("--config", str(path), "status")
        out = done.stdout + done.stderr
        assert done.returncode == 2, out
        assert "accounts[0].base_url" in out
        assert SECRET not in out

    def test_unset_variable_exits_2_naming_it(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("SYNCD_TEST_UNSET_VAR", raising=False)
        path = write(tmp_path, f"""
            [database]
            url = "sqlite:///{tmp_path}/m.db"
            [[accounts]]
            name = "qq"
            vendor = "quickquote"
            base_url = "https://api.example.com"
            [accounts.auth]
            api_key = "${{SYNCD_TEST_UNSET_VAR}}"
            other = "{SECRET}"
        """)
        done = self.run("--config", str(path), "status")
        out = done.stdout + done.stderr
        assert done.returncode == 2, out
        assert "SYNCD_TEST_UNSET_VAR" in out
        assert "accounts[0].auth.api_key" in out
        assert SECRET not in out

    def test_missing_config_exits_2(self, tmp_path: Path) -> None:
        done = self.run("--config", str(tmp_path / "absent.toml"), "status")
        assert done.returncode == 2
        assert "--config" in done.stdout + done.stderr

    def test_good_config_status_exits_0_without_secret(self, tmp_path: Path) -> None:
        path = write(tmp_path, f"""
            [database]
            url = "sqlite:///{tmp_path}/m.db"
            [[accounts]]
            name = "qq"
            vendor = "quickquote"
            base_url = "https://api.example.com"
            [accounts.auth]
            api_key = "{SECRET}"
        """)
        done = self.run("--config", str(path), "status", "--format", "json")
        out = done.stdout + done.stderr
        assert done.returncode == 0, out
        assert '"qq"' in done.stdout
        assert SECRET not in out


class TestVendorOptions:
    """Keys only one vendor reads live in its connector's options model, written flat in
    `[[accounts]]` as before; the vendor's model validates them at load."""

    def test_a_vendor_key_is_validated_into_the_connectors_options(self) -> None:
        from syncd.vendors.offorte import OfforteOptions

        settings = settings_from_dict({"accounts": [account(vendor="offorte", api_version="v2")]})
        assert settings.accounts[0].options == OfforteOptions(api_version="v2")
        default = settings_from_dict({"accounts": [account(vendor="offorte")]}).accounts[0]
        assert default.options == OfforteOptions(api_version="v1")

    @pytest.mark.parametrize(("entry", "key"), [
        (account(vendor="offorte", api_version="v3"), "accounts[qq].api_version"),
        (account(api_version="v2"), "accounts[0].api_version"),  # not a Quick Quote key
    ])
    def test_a_bad_or_foreign_vendor_key_names_the_key(self, entry: dict[str, Any],
                                                       key: str) -> None:
        with pytest.raises(SettingsError) as info:
            settings_from_dict({"accounts": [entry]})
        assert info.value.key == key

    def test_a_bad_vendor_key_exits_2_naming_it(self, tmp_path: Path) -> None:
        path = write(tmp_path, f"""
            [database]
            url = "sqlite:///{tmp_path}/m.db"
            [[accounts]]
            name = "off"
            vendor = "offorte"
            base_url = "https://connect.offorte.com/api/v1/acme"
            api_version = "v9"
        """)
        done = TestCli().run("--config", str(path), "status")
        assert done.returncode == 2, done.stdout + done.stderr
        assert "accounts[off].api_version" in done.stdout + done.stderr


ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "settings.example.toml"
README = ROOT / "README.md"

# every key a connector reads, for any operation: its `[accounts.auth]` keys and its options
# model's entry keys (Offorte's `api_version`, Happyoffer's create keys): the README's
# "Settings each vendor needs" table and the example show each
VENDOR_KEYS = {
    "offorte": {"access_token", "refresh_token", "client_id", "client_secret", "oauth_url",
                "api_key", "api_version"},
    "strawblond": {"api_key"},
    "quickquote": {"api_key"},
    "happyoffer": {"token", "email", "password", "offer_template_id", "external_user_token",
                   "external_company_token", "offer_pdf_url"},
    "automa": {"api_key"},
}


def example_sections() -> dict[str, str]:
    """The example's text per vendor: every `[[accounts]]` block (commented ones too)."""
    sections: dict[str, str] = {}
    text = EXAMPLE.read_text(encoding="utf-8")
    for block in re.split(r"^#? ?\[\[accounts\]\]$", text, flags=re.MULTILINE)[1:]:
        vendor = re.search(r'vendor = "([a-z]+)"', block)
        assert vendor, block
        sections[vendor.group(1)] = sections.get(vendor.group(1), "") + block
    return sections


def test_the_example_loads_with_its_variables_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in set(re.findall(r"\$\{([A-Z_0-9]+)\}", EXAMPLE.read_text(encoding="utf-8"))):
        monkeypatch.setenv(var, f"value-of-{var.lower()}")
    loaded = load_settings(EXAMPLE)
    assert sorted({a.vendor for a in loaded.accounts}) == sorted(registered_vendors())


def test_the_example_and_the_readme_name_every_key_a_connector_reads() -> None:
    sections = example_sections()
    readme = README.read_text(encoding="utf-8")
    table = readme[readme.index("### Settings each vendor needs"):]
    table = table[:table.index("\n\n", table.index("| vendor |"))]
    for vendor, keys in VENDOR_KEYS.items():
        source = (ROOT / "syncd" / "vendors" / f"{vendor}.py").read_text(encoding="utf-8")
        read = set(re.findall(r'secret\("([a-z_]+)"', source))
        read |= set(connector_class(vendor).options_model.model_fields)
        assert read <= keys, f"{vendor} reads {read - keys}: document them"
        for key in keys:
            assert re.search(rf"^#? ?{key} = ", sections[vendor], re.MULTILINE), (vendor, key)
            assert f"`{key}`" in table or f"`{key} = " in table, (vendor, key)


USER_TOKEN, COMPANY_TOKEN = "ext-user-9a8b7c6d5e", "ext-company-1f2e3d4c"
CREATE_KEYS = {"offer_template_id": "1234", "offer_pdf_url": "https://crm.example.com/{marker}.pdf",
               "external_user_token": USER_TOKEN, "external_company_token": COMPANY_TOKEN}


def happyoffer(flat: dict[str, Any] | None = None, auth: dict[str, Any] | None = None,
               ) -> dict[str, Any]:
    return {"name": "ho", "vendor": "happyoffer", "base_url": "https://my-online-offer.com/api",
            **(flat or {}), "auth": {"token": SECRET, **(auth or {})}}


# one token in the entry, one still in [accounts.auth] (the old place)
MIXED = f"""
    external_user_token = "{USER_TOKEN}"
    [accounts.auth]
    token = "{SECRET}"
    external_company_token = "{COMPANY_TOKEN}"
"""


def happyoffer_file(tmp_path: Path, rest: str) -> Path:
    """A settings file of one Happyoffer account `ho`, `rest` its keys and tables."""
    head = textwrap.dedent(f"""
        [database]
        url = "sqlite:///{tmp_path}/m.db"
        [[accounts]]
        name = "ho"
        vendor = "happyoffer"
        base_url = "https://my-online-offer.com/api"
    """)
    return write(tmp_path, head + textwrap.dedent(rest))


class TestHappyofferOptions:
    """Happyoffer's create keys are entry keys now; files that keep them in `[accounts.auth]`
    (their documented place until then) load the same, with one warning line per key."""

    def options(self, entry: dict[str, Any]) -> Any:
        """The loaded account (its `options` the vendor's model, hence `Any` here)."""
        return settings_from_dict({"accounts": [entry]}).accounts[0]

    @pytest.mark.parametrize("place", ["flat", "auth"])
    def test_either_place_gives_the_same_options(self, place: str) -> None:
        from syncd.vendors.happyoffer import HappyofferOptions

        loaded = self.options(happyoffer(**{place: CREATE_KEYS}))
        options = loaded.options
        assert isinstance(options, HappyofferOptions)
        assert (options.offer_template_id, options.offer_pdf_url) == (
            "1234", "https://crm.example.com/{marker}.pdf")
        assert options.external_user_token is not None
        assert options.external_user_token.get_secret_value() == USER_TOKEN
        assert options.external_company_token is not None
        assert options.external_company_token.get_secret_value() == COMPANY_TOKEN
        assert set(loaded.auth) == {"token"}  # moved out, not read in two places

    def test_the_old_place_warns_once_per_key_without_its_value(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level("WARNING", logger="syncd.settings"):
            self.options(happyoffer(auth={"external_user_token": USER_TOKEN}))
        (line,) = [r.getMessage() for r in caplog.records]
        assert line == ("accounts[ho]: auth.external_user_token is deprecated: move "
                        "`external_user_token` into the [[accounts]] entry itself (read from "
                        "[accounts.auth] until then)")

    def test_the_entry_wins_over_the_old_place(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level("WARNING", logger="syncd.settings"):
            loaded = self.options(happyoffer(flat={"offer_template_id": "new"},
                                             auth={"offer_template_id": "old"}))
        assert loaded.options.offer_template_id == "new"
        assert "auth.offer_template_id is ignored" in caplog.text

    def test_none_is_needed_to_load_and_a_template_id_may_be_a_number(self) -> None:
        assert self.options(happyoffer()).options.offer_template_id is None
        numbered = self.options(happyoffer(flat={"offer_template_id": 1234}))
        assert numbered.options.offer_template_id == "1234"

    @pytest.mark.parametrize(("flat", "key"), [
        ({"external_user_token": 5}, "accounts[ho].external_user_token"),
        ({"offer_template_id": ["1"]}, "accounts[ho].offer_template_id"),
        ({"offer_pdf_url": "http://crm.example.com/x.pdf"}, "accounts[ho].offer_pdf_url"),
    ])
    def test_a_bad_value_names_its_key(self, flat: dict[str, Any], key: str) -> None:
        with pytest.raises(SettingsError) as info:
            self.options(happyoffer(flat=flat))
        assert info.value.key == key

    def test_the_tokens_never_print_and_are_masked_in_logs(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from syncd import cli, logs

        loaded = self.options(happyoffer(flat=CREATE_KEYS))
        for text in (repr(loaded), str(loaded), repr(loaded.options),
                     loaded.model_dump_json(), str(loaded.model_dump())):
            assert USER_TOKEN not in text and COMPANY_TOKEN not in text
        assert {USER_TOKEN, COMPANY_TOKEN} <= set(loaded.secret_values())
        monkeypatch.setattr(cli.STATE, "config", str(happyoffer_file(tmp_path, MIXED)))
        cli.settings()  # what every command loads: both tokens registered for masking
        assert logs.REDACT(f"sent {USER_TOKEN} and {COMPANY_TOKEN}") == "sent *** and ***"

    def test_a_bad_type_exits_2_naming_the_key_and_status_shows_no_token(
        self, tmp_path: Path
    ) -> None:
        bad = happyoffer_file(tmp_path, """
            external_user_token = 5
            [accounts.auth]
            token = "x-token"
        """)
        done = TestCli().run("--config", str(bad), "status")
        assert done.returncode == 2, done.stdout + done.stderr
        assert "accounts[ho].external_user_token" in done.stdout + done.stderr
        good = happyoffer_file(tmp_path, MIXED)
        for args in (("status",), ("status", "--format", "json")):
            done = TestCli().run("--config", str(good), *args)
            out = done.stdout + done.stderr
            assert done.returncode == 0, out
            assert USER_TOKEN not in out and COMPANY_TOKEN not in out and SECRET not in out
            assert "auth.external_company_token is deprecated" in done.stderr


class TestLeaseTtl:
    """`sync.lease_ttl_seconds`: how soon a killed PostgreSQL worker's accounts move."""

    def test_default_and_bounds(self) -> None:
        assert settings_from_dict({}).sync.lease_ttl_seconds == 30
        with pytest.raises(SettingsError) as info:
            settings_from_dict({"sync": {"lease_ttl_seconds": 0}})
        assert "sync.lease_ttl_seconds" in str(info.value)

    def test_syncd_run_renews_leases_every_third_of_the_ttl(
        self, tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from typer.testing import CliRunner

        from syncd import cli
        from syncd.engine.daemon import Daemon

        seen: dict[str, float] = {}

        def started(daemon: Daemon) -> None:
            daemon.start()
            try:
                job = daemon.scheduler.get_job("leases")
                seen["ttl"] = daemon.lease_ttl
                seen["every"] = job.trigger.interval.total_seconds()
            finally:
                daemon.stop()

        monkeypatch.setattr(Daemon, "run_forever", started)
        path = write(tmp_path, f"""
            [database]
            url = "{sqlite_url}"
            [sync]
            lease_ttl_seconds = 6
            [webhooks]
            listen = "127.0.0.1:0"
        """)
        done = CliRunner().invoke(cli.app, ["--config", str(path), "run"])
        assert done.exit_code == 0, done.output
        assert seen == {"ttl": 6, "every": 2}

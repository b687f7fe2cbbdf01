"""Operating syncd from the command line: the documented exit codes, `syncd outbox list`,
`syncd sandbox --write-settings`, the Happyoffer create-key message and log masking.

Every test runs the real entry point (`python -m syncd` in a subprocess), as a user's shell
or cron job does: the exit code, stdout and stderr are the product's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syncd.demo import write_settings
from syncd.sandbox.base import Sandbox, ServedApp
from syncd.sandbox.happyoffer import HappyofferSandbox
from syncd.sandbox.offorte import OfforteSandbox
from tests.integration.test_cli import Run, live_rows, sql, syncd

RPM = 10_000


def served_account(served: Callable[[Sandbox], ServedApp], box: Sandbox, name: str,
                   **changes: Any) -> dict[str, Any]:
    """Seed and serve one sandbox; its `[[accounts]]` entry at a raised budget."""
    box.seed_data(companies=3, proposals=4, max_items=2, seed=7)
    served(box)
    return {**box.account_entry(name), "requests_per_minute": RPM, **changes}


def bare(*args: str) -> Run:
    """`python -m syncd ARGS` with no --config of the test's choosing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    env["COLUMNS"] = "200"
    done = subprocess.run([sys.executable, "-m", "syncd", *args], capture_output=True,
                          text=True, env=env, timeout=60)
    return Run(done.returncode, done.stdout, done.stderr)


# ---- exit 2: bad usage, one line, no traceback ---------------------------------------------
USAGE_ERRORS = [
    ("unknown_command", ["no-such-command"], "No such command 'no-such-command'"),
    ("unknown_option", ["backfill", "--bogus"], "No such option: --bogus"),
    ("unknown_sub_command", ["outbox", "lisst"], "No such command 'lisst'"),
    ("bad_choice", ["status", "--format", "xml"], "'xml' is not one of"),
    ("bad_outbox_status", ["outbox", "list", "--status", "sent"], "'sent' is not one of"),
    ("not_an_integer", ["conflicts", "resolve", "abc", "--keep", "local"], "'ID'"),
    ("missing_option", ["conflicts", "resolve", "1"], "Missing option '--keep'"),
]


@pytest.mark.parametrize(("args", "said"), [(a, s) for _n, a, s in USAGE_ERRORS],
                         ids=[n for n, _a, _s in USAGE_ERRORS])
def test_bad_usage_prints_one_line_and_exits_2(args: list[str], said: str) -> None:
    result = bare(*args)
    assert result.code == 2, result.out + result.err
    assert result.out == ""
    assert result.err.strip().count("\n") == 0, result.err
    assert result.err.startswith("error: ") and said in result.err, result.err
    assert "--help" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("args", [[], ["db"], ["outbox"]], ids=["syncd", "db", "outbox"])
def test_a_bare_group_prints_its_help_and_exits_2(args: list[str]) -> None:
    result = bare(*args)
    assert result.code == 2, result.out + result.err
    assert "Usage:" in result.out and "Traceback" not in result.out + result.err


def test_help_exits_0() -> None:
    for args in (["--help"], ["outbox", "list", "--help"], ["sandbox", "--help"]):
        result = bare(*args)
        assert result.code == 0 and "Usage:" in result.out, (args, result.err)


# ---- exit 2: bad settings, the message names the key ----------------------------------------
def test_bad_settings_exit_2(tmp_path: Path, sqlite_url: str) -> None:
    missing = syncd(tmp_path / "nowhere.toml", "status")
    assert missing.code == 2 and "--config" in missing.err
    config = tmp_path / "settings.toml"
    write_settings(config, sqlite_url, [])
    log_format = bare("--config", str(config), "--log-format", "xml", "status")
    assert log_format.code == 2 and "--log-format" in log_format.err, log_format.err
    unknown = syncd(config, "outbox", "list", "--account", "nobody")
    assert unknown.code == 2 and "no account named 'nobody'" in unknown.err, unknown.err
    config.write_text(config.read_text().replace('"manual"', '"sometimes"'))
    policy = syncd(config, "status")
    assert policy.code == 2 and "sync.conflict_policy" in policy.err, policy.err
    config.write_text("[sync\n")
    broken = syncd(config, "status")
    assert broken.code == 2 and "not valid TOML" in broken.err, broken.err


# ---- exit 0 and 1, the outbox report, the Happyoffer message ----------------------------------
@pytest.fixture
def happyoffer_without_template(served: Callable[[Sandbox], ServedApp], tmp_path: Path,
                                sqlite_url: str) -> tuple[Path, HappyofferSandbox]:
    """A Happyoffer account whose settings lack `offer_template_id`, backfilled (exit 0)."""
    box = HappyofferSandbox(requests_per_minute=RPM)
    entry = served_account(served, box, "ho-main")
    del entry["offer_template_id"]
    config = tmp_path / "settings.toml"
    write_settings(config, sqlite_url, [entry])
    backfill = syncd(config, "backfill")
    assert backfill.code == 0, backfill.out + backfill.err
    return config, box


def test_a_write_the_vendor_cannot_take_exits_1_and_outbox_list_names_the_missing_key(
    happyoffer_without_template: tuple[Path, HappyofferSandbox], sqlite_url: str,
) -> None:
    config, box = happyoffer_without_template
    ((company_id, contact_id),) = sql(
        sqlite_url, "SELECT company_id, id FROM contacts WHERE account = 'ho-main' AND "
        "company_id IS NOT NULL AND email IS NOT NULL ORDER BY id LIMIT 1")
    sql(sqlite_url, "INSERT INTO proposals (account, title, company_id, contact_id) "
        "VALUES ('ho-main', 'New from SQL', :c, :p)", c=company_id, p=contact_id)
    box.reset_log()

    pushed = syncd(config, "push")
    assert pushed.code == 1, pushed.out + pushed.err
    where = "set `offer_template_id` in [[accounts]] ho-main (the entry itself)"
    assert where in pushed.out, pushed.out  # brackets and all: not eaten as markup
    assert not box.seen(method="POST", path="/external-offers")

    listed = syncd(config, "outbox", "list", "--format", "json")
    assert listed.code == 0, listed.err
    (entry,) = [e for e in listed.json() if e["kind"] == "create"]
    assert (entry["account"], entry["entity"], entry["status"]) == (
        "ho-main", "proposals", "unsupported")
    assert where in entry["refusal"] and entry["refusal"] == entry["last_error"]
    # never sent (no request could be built): attempts 0, no method
    assert (entry["attempts"], entry["method"]) == (0, "-") and entry["updated_at"]

    only = syncd(config, "outbox", "list", "--status", "unsupported", "--account", "ho-main",
                 "--format", "json")
    assert [e["id"] for e in only.json()] == [entry["id"]]
    assert syncd(config, "outbox", "list", "--status", "done", "--format", "json").json() == []

    table = syncd(config, "outbox", "list")
    assert table.code == 0 and "unsupported" in table.out
    assert "[[accounts]] ho-main" in table.out, table.out

    status = syncd(config, "status")
    assert status.code == 0 and "[[accounts]] ho-main" in status.out, status.out


def test_outbox_list_shows_the_vendors_refusal_text(
    served: Callable[[Sandbox], ServedApp], tmp_path: Path, sqlite_url: str,
) -> None:
    """A 4xx: the vendor's own words, apart from the request that drew them."""
    box = OfforteSandbox(requests_per_minute=RPM)
    config = tmp_path / "settings.toml"
    write_settings(config, sqlite_url, [served_account(served, box, "of-main")])
    assert syncd(config, "backfill").code == 0
    ((row_id,),) = sql(sqlite_url, "SELECT id FROM proposals WHERE account = 'of-main' "
                       "AND deleted_at IS NULL ORDER BY id LIMIT 1")
    sql(sqlite_url, "UPDATE proposals SET title = 'Renamed' WHERE id = :i", i=row_id)
    box.add_fault("*", r"/proposals/", "status", status=422, times=5,
                  body={"error": "The name field is locked for signed proposals."})

    pushed = syncd(config, "push")
    assert pushed.code == 1, pushed.out + pushed.err
    (entry,) = syncd(config, "outbox", "list", "--status", "refused", "--format", "json").json()
    assert entry["row_id"] == row_id and "HTTP 422" in entry["last_error"]
    assert "locked for signed proposals" in entry["refusal"]
    assert entry["refusal"] == '{"error":"The name field is locked for signed proposals."}'


# ---- log masking: secrets, not addresses ---------------------------------------------------
def test_an_oauth_host_in_auth_is_not_masked_in_the_log_but_the_tokens_are(
    served: Callable[[Sandbox], ServedApp], tmp_path: Path, sqlite_url: str,
) -> None:
    box = OfforteSandbox(requests_per_minute=RPM)
    entry = served_account(served, box, "of-main")
    oauth_url = entry["auth"]["oauth_url"]  # the sandbox root: the host of every Offorte URL
    assert entry["base_url"].startswith(oauth_url)
    config = tmp_path / "settings.toml"
    write_settings(config, sqlite_url, [entry])
    box.add_fault("GET", r"/companies", "status", status=503, times=1)

    result = syncd(config, "backfill")
    assert result.code == 0, result.out + result.err
    retry_lines = [line for line in result.err.splitlines() if "HTTP 503" in line]
    assert retry_lines, result.err
    assert all(entry["base_url"] in line for line in retry_lines), retry_lines
    assert "***/" not in result.err
    for key in ("access_token", "refresh_token", "client_secret"):
        assert entry["auth"][key] not in result.out + result.err


# ---- sandbox --write-settings ------------------------------------------------------------
def test_sandbox_writes_a_settings_file_that_backfill_uses(tmp_path: Path) -> None:
    """From `syncd sandbox` to `syncd backfill` in one step (the sandboxes at 30/min)."""
    written = tmp_path / "sandbox.toml"
    db_url = f"sqlite:///{tmp_path}/mirror.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "syncd", "sandbox", "--port", "0", "--proposals", "6",
         "--write-settings", str(written), "--database-url", db_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while not written.exists():
            assert server.poll() is None, server.communicate()
            assert time.monotonic() < deadline, "no settings file after 30 s"
            time.sleep(0.1)
        backfill = syncd(written, "backfill")
        assert backfill.code == 0, backfill.out + backfill.err
        counts = live_rows(db_url)
        assert sorted(counts) == [f"sandbox-{v}" for v in (
            "automa", "happyoffer", "offorte", "quickquote", "strawblond")]
        assert all(c.get("proposals", 0) > 0 for c in counts.values()), counts
        assert json.loads(syncd(written, "status", "--format", "json").out)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()

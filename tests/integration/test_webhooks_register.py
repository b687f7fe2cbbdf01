"""`syncd webhooks register` against the sandboxes: re-running it creates nothing twice.

Offorte allows at most 10 hooks per account and Automa.Net takes one event type per
subscription, so a register that duplicates on every run soon breaks the account. The
real CLI runs twice per vendor; the vendor must end up with exactly one subscription set
pointing at this daemon, with the secret syncd will check, and no output shows the secret.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from syncd.clock import SYSTEM_CLOCK
from syncd.db.session import Database
from syncd.demo import write_settings
from syncd.engine.runtime import DbTokenStore
from syncd.sandbox import sandbox_class
from syncd.sandbox.base import Sandbox, ServedApp
from syncd.vendors.automa import QUOTE_EVENTS

PUBLIC = "https://syncd.example.com"
RPM = 10_000


@dataclass
class Setup:
    config: Path
    db_url: str
    boxes: dict[str, Sandbox]

    def register(self, account: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
        env["COLUMNS"] = "200"
        return subprocess.run(
            [sys.executable, "-m", "syncd", "--config", str(self.config), "webhooks",
             "register", "--account", account],
            capture_output=True, text=True, env=env, timeout=60)

    def secret(self, account: str) -> str:
        db = Database(self.db_url)
        stored = DbTokenStore(db, f"{account}#webhook", SYSTEM_CLOCK).load() or {}
        db.dispose()
        return stored.get("webhook_secret", "")


@pytest.fixture
def setup(tmp_path: Path, sqlite_url: str,
          served: Callable[..., ServedApp]) -> Setup:
    boxes: dict[str, Sandbox] = {}
    accounts: list[dict[str, Any]] = []
    for vendor in ("offorte", "strawblond", "automa"):
        box = sandbox_class(vendor)(requests_per_minute=RPM)
        box.seed_data(companies=2, proposals=3, max_items=2, seed=3)
        served(box)
        entry = box.account_entry(f"wh-{vendor}")
        entry["requests_per_minute"] = RPM
        accounts.append(entry)
        boxes[f"wh-{vendor}"] = box
    config = tmp_path / "settings.toml"
    write_settings(config, sqlite_url, accounts)
    with config.open("a", encoding="utf-8") as out:
        out.write(f'\n[webhooks]\npublic_url = "{PUBLIC}"\n')
    return Setup(config, sqlite_url, boxes)


def hooks(box: Sandbox) -> list[dict[str, Any]]:
    with box.lock:
        return [dict(h) for h in box.collection("webhooks").values()]


def assert_quiet_about(secret: str, *runs: subprocess.CompletedProcess[str]) -> None:
    assert len(secret) >= 16
    for run in runs:
        assert secret not in run.stdout + run.stderr


def test_offorte_register_twice_makes_one_hook(setup: Setup) -> None:
    box = setup.boxes["wh-offorte"]
    first, second = setup.register("wh-offorte"), setup.register("wh-offorte")
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    secret = setup.secret("wh-offorte")
    (hook,) = hooks(box)
    assert hook["payload_url"] == f"{PUBLIC}/webhooks/wh-offorte/{secret}"
    assert hook["events"] == ["all"] and hook["active"]
    assert box.count("POST", r"/webhooks/?$") == 1
    assert "✓" in first.stdout and "already subscribed" in second.stdout
    assert_quiet_about(secret, first, second)


def test_offorte_v2_register_twice_makes_one_hook(tmp_path: Path, sqlite_url: str,
                                                 served: Callable[..., ServedApp]) -> None:
    """v2 answers a create with `{"webhook_id": …}` and lists at `/webhooks`."""
    box = sandbox_class("offorte")(requests_per_minute=RPM, api_version="v2")
    box.seed_data(companies=2, proposals=3, max_items=2, seed=3)
    served(box)
    config = tmp_path / "v2.toml"
    write_settings(config, sqlite_url, [box.account_entry("wh-v2")])
    with config.open("a", encoding="utf-8") as out:
        out.write(f'\n[webhooks]\npublic_url = "{PUBLIC}"\n')
    v2 = Setup(config, sqlite_url, {"wh-v2": box})
    first, second = v2.register("wh-v2"), v2.register("wh-v2")
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    (hook,) = hooks(box)
    assert hook["payload_url"] == f"{PUBLIC}/webhooks/wh-v2/{v2.secret('wh-v2')}"
    assert "already subscribed" in second.stdout
    assert_quiet_about(v2.secret("wh-v2"), first, second)


def test_offorte_register_switches_a_deactivated_hook_on_again(setup: Setup) -> None:
    box = setup.boxes["wh-offorte"]
    assert setup.register("wh-offorte").returncode == 0
    with box.lock:  # ten failed deliveries later
        next(iter(box.collection("webhooks").values()))["active"] = False
    again = setup.register("wh-offorte")
    assert again.returncode == 0, again.stderr
    (hook,) = hooks(box)
    assert hook["active"] is True
    assert box.count("PATCH", r"/webhooks/\d+/?$") == 1
    assert "active again" in again.stdout


def test_strawblond_register_twice_makes_one_hook_and_keeps_its_secret(setup: Setup) -> None:
    box = setup.boxes["wh-strawblond"]
    first = setup.register("wh-strawblond")
    secret = setup.secret("wh-strawblond")
    second = setup.register("wh-strawblond")
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    (hook,) = hooks(box)
    assert (hook["event"], hook["url"]) == ("*", f"{PUBLIC}/webhooks/wh-strawblond")
    # the signing secret StrawBlond issued once is the one syncd verifies, run after run
    assert setup.secret("wh-strawblond") == secret == hook["secret"]
    assert box.count("POST", r"/webhook$") == 1
    assert "already subscribed" in second.stdout
    assert_quiet_about(secret, first, second)


def test_strawblond_hook_without_a_known_secret_is_reported(setup: Setup,
                                                           tmp_path: Path) -> None:
    """The mirror was recreated: the hook exists, its secret (shown once) is lost."""
    assert setup.register("wh-strawblond").returncode == 0
    fresh = f"sqlite:///{tmp_path}/fresh.db"
    text = setup.config.read_text().replace(setup.db_url, fresh)
    setup.config.write_text(text)
    again = setup.register("wh-strawblond")
    assert again.returncode == 0
    assert len(hooks(setup.boxes["wh-strawblond"])) == 1
    assert "no secret" in again.stdout and "delete it at the vendor" in again.stdout


def test_automa_register_twice_makes_one_subscription_per_event(setup: Setup) -> None:
    box = setup.boxes["wh-automa"]
    seeded = {h["uuid"] for h in hooks(box)}  # another receiver's, listed without URLs
    first, second = setup.register("wh-automa"), setup.register("wh-automa")
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    secret = setup.secret("wh-automa")
    ours = [h for h in hooks(box) if h["uuid"] not in seeded]
    assert sorted(h["eventType"] for h in ours) == sorted(QUOTE_EVENTS)
    assert {(h["url"], h["authorization"]) for h in ours} == {
        (f"{PUBLIC}/webhooks/wh-automa", secret)}
    assert box.count("POST", r"/webhooks$") == len(QUOTE_EVENTS)
    assert second.stdout.count("already subscribed") == len(QUOTE_EVENTS)
    assert_quiet_about(secret, first, second)


def test_automa_register_recreates_only_a_subscription_deleted_at_the_vendor(
    setup: Setup,
) -> None:
    box = setup.boxes["wh-automa"]
    assert setup.register("wh-automa").returncode == 0
    gone = next(h for h in hooks(box) if h["eventType"] == QUOTE_EVENTS[0]
                and h["url"].startswith(PUBLIC))
    with box.lock:
        del box.collection("webhooks")[gone["uuid"]]
    box.reset_log()
    again = setup.register("wh-automa")
    assert again.returncode == 0, again.stderr
    posted = [r.json()["eventType"] for r in box.seen("POST", r"/webhooks$")]
    assert posted == [QUOTE_EVENTS[0]]
    assert again.stdout.count("already subscribed") == len(QUOTE_EVENTS) - 1

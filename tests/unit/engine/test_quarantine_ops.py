"""syncd.engine.quarantine_ops: a held record replaces its earlier entry, the list shows the
unresolved ones, a run's quarantined ids are named, and a shown payload has no secret in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from syncd.db.session import Database
from syncd.db.tables import quarantine
from syncd.engine.quarantine_ops import hold, listed, mask_secret_keys, named, shown
from syncd.errors import SettingsError
from syncd.http.redaction import MASK
from syncd.settings import settings_from_dict

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SECRET = "qq-secret-api-key-0001"



def test_holding_a_record_again_closes_its_earlier_entry(mirror_db: Database) -> None:
    with mirror_db.begin() as conn:
        hold(conn, "a", "proposals", "7", {"id": 7}, "no status", NOW)
        hold(conn, "a", "proposals", "7", {"id": 7, "status": "??"}, "unknown status",
             NOW + timedelta(minutes=5))
        hold(conn, "b", "proposals", None, "<html>", "not JSON", NOW)
        rows = conn.execute(select(quarantine.c.error, quarantine.c.resolved_at)
                            .order_by(quarantine.c.id)).all()
        assert [r.error for r in rows] == ["no status", "unknown status", "not JSON"]
        assert rows[0].resolved_at is not None and rows[1].resolved_at is None
        assert [(r["account"], r["error"]) for r in listed(conn)] == [
            ("a", "unknown status"), ("b", "not JSON")]
        assert [r["error"] for r in listed(conn, ["b"])] == ["not JSON"]


def test_named_finds_a_runs_quarantined_records_newest_first(mirror_db: Database) -> None:
    with mirror_db.begin() as conn:
        for remote_id, error in [("1", "e1"), (None, "e-anon"), ("2", "e2"), ("3", "e3")]:
            hold(conn, "a", "proposals", remote_id, {}, error, NOW)
        found = named(conn, "a", "proposals", ["1", "None", "3"])
    assert [(f["remote_id"], f["error"]) for f in found] == [("3", "e3"), (None, "e-anon"),
                                                             ("1", "e1")]


def test_mask_secret_keys_masks_values_under_secret_keys_at_any_depth() -> None:
    payload = {"id": 7, "api_key": "k", "owner": {"access_token": "t", "email": "a@b.c"},
               "items": [{"password": "p", "qty": 1}], "token": ""}
    assert mask_secret_keys(payload) == {
        "id": 7, "api_key": MASK, "owner": {"access_token": MASK, "email": "a@b.c"},
        "items": [{"password": MASK, "qty": 1}], "token": ""}


def test_shown_masks_secret_keys_and_the_accounts_secrets_in_the_text(mirror_db: Database) -> None:
    settings = settings_from_dict({"database": {"url": "sqlite://"}, "accounts": [{
        "name": "a", "vendor": "quickquote", "base_url": "http://127.0.0.1:9/api",
        "auth": {"api_key": SECRET}}]})
    with mirror_db.begin() as conn:
        hold(conn, "a", "proposals", "7", {"id": 7, "note": f"echo {SECRET}", "token": "t0"},
             "no status", NOW)
        record_id = listed(conn)[0]["id"]
        record = shown(conn, record_id, settings)
        with pytest.raises(SettingsError, match="no quarantined record"):
            shown(conn, record_id + 1, settings)
    assert SECRET not in record["raw"] and '"token": "***"' in record["raw"]
    assert f"echo {MASK}" in record["raw"]
    assert (record["account"], record["remote_id"], record["error"]) == ("a", "7", "no status")

"""Offorte through the engine: pushes obey the edit lock, creates survive a lost answer
(proposals by their marker, companies and people by the values sent), webhooks (unsigned,
secret path token) only trigger re-fetches."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from syncd.canonical import Entity
from syncd.db.tables import CANONICAL_TABLES, outbox
from syncd.engine.push import Pusher, PushResult
from syncd.engine.webhooks import receive, run_pending_fetches
from tests.connectors.standard import Case, make_case

SIZES = {"companies": 4, "proposals": 12, "max_items": 3, "seed": 9}
PROPOSALS = CANONICAL_TABLES[Entity.PROPOSALS]


def backfilled(db_url: str, make_runtime: Any, served: Any, **sync: Any) -> Case:
    case = make_case("offorte", db_url, make_runtime, served, sizes=SIZES, **sync)
    assert case.pull().ok
    return case


def push(case: Case) -> PushResult:
    return Pusher(case.runtime, case.runtime.account(case.account)).run()


def mirror(case: Case, remote_id: str) -> dict[str, Any]:
    with case.runtime.db.begin() as conn:
        return dict(conn.execute(select(PROPOSALS).where(
            PROPOSALS.c.remote_id == remote_id)).mappings().one())


def set_title(case: Case, remote_id: str, title: str) -> None:
    with case.runtime.db.begin() as conn:
        conn.execute(update(PROPOSALS).where(PROPOSALS.c.remote_id == remote_id)
                     .values(title=title))


def with_status(case: Case, word: str) -> str:
    return next(k for k, p in sorted(case.sandbox.collection("proposals").items())
                if p["status"] == word and not p.get("deleted"))


def test_offorte_title_of_a_draft_is_pushed_and_does_not_echo(sqlite_url, make_runtime, served):
    case = backfilled(sqlite_url, make_runtime, served)
    remote_id = with_status(case, "edit")
    set_title(case, remote_id, "Edited in SQL")
    case.sandbox.reset_log()
    result = push(case)
    assert result.ok and result.done == 1
    (sent,) = case.sandbox.requests
    assert (sent.method, sent.path, sent.json()) == (
        "PATCH", f"/api/v1/acme/proposals/{remote_id}/details/", {"name": "Edited in SQL"})
    assert case.sandbox.proposal_title(remote_id) == "Edited in SQL"
    assert case.pull(sweep=False).ok  # the vendor bumped date_modified: updated_at moves
    assert mirror(case, remote_id)["title"] == "Edited in SQL"
    case.sandbox.reset_log()
    again = push(case)
    assert again.planned == [] and case.sandbox.requests == []


def test_offorte_title_of_a_won_proposal_is_refused_without_a_request(
    sqlite_url, make_runtime, served
):
    case = backfilled(sqlite_url, make_runtime, served)
    remote_id = with_status(case, "won")
    set_title(case, remote_id, "Too late")
    case.sandbox.reset_log()
    result = push(case)
    assert case.sandbox.requests == []
    (planned,) = result.planned
    assert planned.status == "refused" and "only while the proposal is in 'edit'" in planned.reason


def test_offorte_status_change_is_pushed_as_the_status_word(sqlite_url, make_runtime, served):
    case = backfilled(sqlite_url, make_runtime, served)
    remote_id = with_status(case, "open")
    with case.runtime.db.begin() as conn:
        conn.execute(update(PROPOSALS).where(PROPOSALS.c.remote_id == remote_id)
                     .values(status="accepted"))
    case.sandbox.reset_log()
    assert push(case).ok
    assert [r.json() for r in case.sandbox.requests] == [{"status": "won"}]
    assert case.sandbox.collection("proposals")[remote_id]["status"] == "won"


def test_offorte_create_with_a_lost_answer_is_found_by_its_marker(
    sqlite_url, make_runtime, served
):
    case = backfilled(sqlite_url, make_runtime, served)
    with case.runtime.db.begin() as conn:
        company = conn.execute(select(CANONICAL_TABLES[Entity.COMPANIES].c.id)).scalars().first()
        new_id = conn.execute(insert(PROPOSALS).values(
            account=case.account, title="Made in SQL", status="draft", company_id=company,
        )).inserted_primary_key[0]
        conn.execute(insert(CANONICAL_TABLES[Entity.LINE_ITEMS]).values(
            account=case.account, proposal_id=new_id, position=1, name="Widget",
            quantity=2, unit_price=10))
    case.sandbox.add_fault("POST", r"/proposals/$", "drop")
    before = len(case.sandbox.collection("proposals"))
    first = push(case)
    assert first.retrying == 1 and len(case.sandbox.collection("proposals")) == before + 1
    case.clock.advance(3600)
    second = push(case)
    assert second.done == 1 and len(case.sandbox.collection("proposals")) == before + 1
    remote_id = mirror_by_id(case, new_id)["remote_id"]
    assert case.sandbox.proposal_title(remote_id) == "Made in SQL"
    assert case.sandbox.count("POST", r"/proposals/$") == 1
    assert case.pull().ok
    items = [i for i in case.rows(Entity.LINE_ITEMS)
             if i["proposal_id"] == new_id and i["deleted_at"] is None]
    assert [(i["name"], i["remote_id"] is not None) for i in items] == [("Widget", True)]


def created_once_despite_a_lost_answer(case: Case, post: str, collection: str) -> None:
    """The first push's answer is dropped (the vendor did create); the retry adopts it."""
    case.sandbox.add_fault("POST", post, "drop", times=1)
    before = len(case.sandbox.collection(collection))
    assert push(case).retrying == 1 and len(case.sandbox.collection(collection)) == before + 1
    case.clock.advance(3600)
    assert push(case).done == 1
    assert len(case.sandbox.collection(collection)) == before + 1
    assert case.sandbox.count("POST", post) == 1


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_offorte_company_and_person_creates_with_a_lost_answer_are_adopted_not_repeated(
    sqlite_url, make_runtime, served, version
):
    case = make_case("offorte", sqlite_url, make_runtime, served, sizes=SIZES,
                     sandbox_options={"api_version": version})
    assert case.pull().ok
    companies, contacts = CANONICAL_TABLES[Entity.COMPANIES], CANONICAL_TABLES[Entity.CONTACTS]
    namesake = case.rows(Entity.COMPANIES)[0]  # mirrored already: never adopted for the new one
    with case.runtime.db.begin() as conn:
        company_id = conn.execute(insert(companies).values(
            account=case.account, name=namesake["name"])).inserted_primary_key[0]
    created_once_despite_a_lost_answer(
        case, r"/contacts/$" if version == "v2" else r"/companies/$", "companies")
    made = max(case.sandbox.companies.values(), key=lambda c: c["id"])
    adopted = next(r for r in case.rows(Entity.COMPANIES) if r["id"] == company_id)
    assert adopted["remote_id"] == str(made["id"]) != namesake["remote_id"]

    with case.runtime.db.begin() as conn:
        person_id = conn.execute(insert(contacts).values(
            account=case.account, company_id=company_id, full_name="Ada Lost",
            email="ada.lost@example.com")).inserted_primary_key[0]
    created_once_despite_a_lost_answer(
        case, r"/contacts/\d+/people$" if version == "v2" else r"/companies/\d+/people/$",
        "people")
    person = next(p for p in case.sandbox.people.values() if p["email"] == "ada.lost@example.com")
    assert person["company_id"] == made["id"]
    mirrored = next(r for r in case.rows(Entity.CONTACTS) if r["id"] == person_id)
    assert mirrored["remote_id"] == str(person["id"])
    assert case.pull().ok  # the next pull sees them as the rows it already has
    assert [r["name"] for r in case.rows(Entity.COMPANIES)].count(namesake["name"]) == 2
    assert [r["email"] for r in case.rows(Entity.CONTACTS)].count("ada.lost@example.com") == 1


def mirror_by_id(case: Case, row_id: int) -> dict[str, Any]:
    with case.runtime.db.begin() as conn:
        return dict(conn.execute(select(PROPOSALS).where(PROPOSALS.c.id == row_id))
                    .mappings().one())


def test_offorte_webhook_needs_the_secret_path_token_and_only_triggers_a_fetch(
    sqlite_url, make_runtime, served
):
    case = make_case("offorte", sqlite_url, make_runtime, served, sizes=SIZES)
    case.runtime.settings.accounts[0].webhook_secret = type(
        case.runtime.settings.accounts[0].auth["client_id"])("path-token")
    assert case.pull().ok
    remote_id = with_status(case, "edit")
    case.sandbox.remote_edit_title(remote_id, "Renamed at Offorte")
    payload = {"type": "proposal_details_updated", "date_created": "2020-10-16 18:05:00",
               "data": {"id": int(remote_id), "name": "NOT TRUSTED"}}
    body = json.dumps(payload).encode()
    assert receive(case.runtime, case.account, {}, body, "wrong")[0] == 401
    assert receive(case.runtime, case.account, {}, body, None)[0] == 401
    status, answer = receive(case.runtime, case.account, {}, body, "path-token")
    assert (status, answer["queued"]) == (202, 1)
    assert receive(case.runtime, case.account, {}, body, "path-token")[1]["queued"] == 0
    case.sandbox.reset_log()
    assert run_pending_fetches(case.runtime, case.account) == 1
    assert [r.path for r in case.sandbox.requests] == [
        f"/api/v1/acme/proposals/{remote_id}/details/"]
    assert mirror(case, remote_id)["title"] == "Renamed at Offorte"
    case.sandbox.collection("proposals")[remote_id]["deleted"] = True
    gone = json.dumps({"type": "proposal_deleted", "date_created": "2020-10-16 18:06:00",
                       "data": {"id": remote_id}}).encode()
    assert receive(case.runtime, case.account, {}, gone, "path-token")[0] == 202
    run_pending_fetches(case.runtime, case.account)
    assert mirror(case, remote_id)["deleted_at"] is not None


def test_offorte_outbox_never_holds_a_secret(sqlite_url, make_runtime, served):
    case = backfilled(sqlite_url, make_runtime, served)
    set_title(case, with_status(case, "edit"), "x")
    push(case)
    with case.runtime.db.begin() as conn:
        text = json.dumps([dict(r) for r in conn.execute(select(outbox)).mappings()],
                          default=str)
    for secret in (case.sandbox.access_token, case.sandbox.client_secret):
        assert secret not in text

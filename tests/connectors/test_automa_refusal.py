"""An Automa edit the mirror already shows the vendor refusing (a quote that is no longer a
draft) is reported at reconcile, with no request: the full-replacement re-read before a Put
is spent only on updates that could be sent."""

from __future__ import annotations

from sqlalchemy import select

from syncd.db.tables import outbox, proposals
from tests.connectors.test_two_way_suite import backfilled, push, sql, table_rows


def test_edit_of_a_sent_quote_is_refused_without_a_request(db_url, make_runtime, served):
    case = backfilled("automa", db_url, make_runtime, served)
    with case.runtime.db.begin() as conn:
        row = conn.execute(select(proposals.c.id).where(
            proposals.c.account == case.account, proposals.c.status != "draft",
            proposals.c.remote_id.is_not(None)).order_by(proposals.c.id)).first()
    assert row is not None
    sql(case, "UPDATE proposals SET title = 'Too late' WHERE id = :id", id=row.id)
    case.sandbox.reset_log()

    result = push(case)

    assert case.sandbox.requests == [], "a refusal the mirror shows costs no request"
    assert result.sent == 0
    [entry] = [e for e in table_rows(case, outbox) if e["row_id"] == row.id]
    assert entry["status"] == "refused" and entry["last_error"]

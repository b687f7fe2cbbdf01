"""Figure 6: requests per pushed change, for every vendor.

Per vendor: a small backfill from its sandbox, then a user's plain-SQL `UPDATE` of one
proposal's title (and, separately, of one line item's quantity), then `Pusher.run()`. The
sandbox's request log says what syncd sent for that one change: writes and reads.

    .venv/bin/python -m bench.push
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from bench.common import make_runtime, sqlite_url
from syncd.canonical import Entity
from syncd.clock import FakeClock
from syncd.db.tables import line_items, outbox, proposals
from syncd.engine.pull import Puller
from syncd.engine.push import Pusher
from syncd.engine.reconcile import Reconciler
from syncd.engine.runtime import Runtime
from syncd.sandbox import sandbox_class
from syncd.sandbox.base import Sandbox, serve
from syncd.vendors import registered_vendors
from syncd.vendors.base import Op

SIZES = {"companies": 6, "proposals": 40, "max_items": 4, "seed": 5}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def plans_pending(runtime: Runtime, statement: str, params: dict[str, Any]) -> bool:
    """Would this SQL edit be pushed? Planned for real inside a transaction rolled back."""
    conn = runtime.db.engine.connect()
    trans = conn.begin()
    try:
        conn.execute(text(statement), params)
        plans = Reconciler(runtime.account("acct"), runtime.clock.now()).preview(conn)
    finally:
        trans.rollback()
        conn.close()
    return bool(plans) and all(p.status == "pending" for p in plans)


def candidates(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.db.begin() as conn:
        return [dict(r) for r in conn.execute(select(proposals).where(
            proposals.c.remote_id.is_not(None), proposals.c.deleted_at.is_(None))
            .order_by(proposals.c.id)).mappings()]


def one_change(runtime: Runtime, sandbox: Sandbox, statement: str,
               params: dict[str, Any]) -> dict[str, Any]:
    """Apply one SQL edit, push, and count what the sandbox saw."""
    sandbox.reset_log()
    with runtime.db.begin() as conn:
        conn.execute(text(statement), params)
    result = Pusher(runtime, runtime.account("acct")).run()
    seen = sandbox.requests
    with runtime.db.begin() as conn:
        entries = [dict(r) for r in conn.execute(select(
            outbox.c.status, outbox.c.method, outbox.c.last_error).order_by(outbox.c.id)).mappings()]
        conn.execute(text("DELETE FROM outbox"))
    return {
        "writes": sum(1 for r in seen if r.method in WRITES),
        "reads": sum(1 for r in seen if r.method not in WRITES),
        "requests": [f"{r.method} {r.path}" for r in seen],
        "done": result.done, "refused": result.refused,
        "outbox": [{k: (v[:160] if isinstance(v, str) else v) for k, v in e.items()}
                   for e in entries],
    }


def run_vendor(vendor: str) -> dict[str, Any]:
    clock = FakeClock()
    sandbox = sandbox_class(vendor)(clock=clock)
    sandbox.seed_data(**SIZES)
    served = serve(sandbox)
    runtime = make_runtime(sqlite_url(f"push-{vendor}"), sandbox.account_entry("acct"), clock)
    try:
        assert Puller(runtime, runtime.account("acct")).run(sweep=True, kind="backfill").ok
        connector = runtime.account("acct").connector
        out: dict[str, Any] = {"vendor": vendor}
        pick = editable_proposal(runtime)
        out["title"] = title_change(runtime, sandbox, pick)
        out["quantity"] = quantity_change(runtime, sandbox, pick)
        for entity, what in ((Entity.PROPOSALS, "title"), (Entity.LINE_ITEMS, "quantity")):
            out[what]["capability"] = connector.capability(entity, Op.UPDATE)
        out["line_items_via_parent"] = connector.line_items_via_parent
        out["refresh_before_update"] = connector.refresh_before_update
        return out
    finally:
        runtime.close()
        runtime.db.dispose()
        served.stop()


TITLE = "UPDATE proposals SET title = :v WHERE id = :id"
QUANTITY = "UPDATE line_items SET quantity = quantity + 1 WHERE id = :id"


def editable_proposal(runtime: Runtime) -> dict[str, Any]:
    """The first proposal whose title edit the connector plans (an open one), else the
    first proposal (the refusal is then what gets measured)."""
    rows = candidates(runtime)
    for row in rows:
        if plans_pending(runtime, TITLE, {"v": "probe", "id": row["id"]}):
            return row
    return rows[0]


def title_change(runtime: Runtime, sandbox: Sandbox, row: dict[str, Any]) -> dict[str, Any]:
    title = "Edited in SQL (bench)"
    got = one_change(runtime, sandbox, TITLE, {"v": title, "id": row["id"]})
    got["vendor_has_it"] = sandbox.proposal_title(row["remote_id"]) == title
    return got


def quantity_change(runtime: Runtime, sandbox: Sandbox, row: dict[str, Any]) -> dict[str, Any]:
    """One line item of the same (open) proposal gets quantity + 1."""
    live = (line_items.c.remote_id.is_not(None), line_items.c.deleted_at.is_(None))
    with runtime.db.begin() as conn:
        items = list(conn.execute(select(line_items.c.id).where(
            line_items.c.proposal_id == row["id"], *live).order_by(line_items.c.id)).scalars())
        items += list(conn.execute(select(line_items.c.id).where(*live)
                                   .order_by(line_items.c.id).limit(50)).scalars())
    pick = next((i for i in items if plans_pending(runtime, QUANTITY, {"id": i})), None)
    if pick is None:
        pick = items[0]
    got = one_change(runtime, sandbox, QUANTITY, {"id": pick})
    with runtime.db.begin() as conn:
        item = conn.execute(select(line_items.c.remote_id, line_items.c.quantity,
                                   proposals.c.remote_id.label("parent"))
                            .join(proposals, proposals.c.id == line_items.c.proposal_id)
                            .where(line_items.c.id == pick)).one()
    held = vendor_quantity(sandbox.proposal_fields(str(item.parent)), str(item.remote_id))
    got["vendor_has_it"] = held is not None and _same(held, item.quantity)
    return got


def vendor_quantity(fields: Any, remote_id: str) -> Any:
    """The `quantity` of the record with this id anywhere in the vendor's proposal (its
    line items sit under a vendor-specific key: items, elements, line_items, ...)."""
    if isinstance(fields, dict):
        ids = {str(fields.get(k)) for k in ("id", "uuid") if fields.get(k) is not None}
        if remote_id in ids and "quantity" in fields:
            return fields["quantity"]
        values: Any = fields.values()
    elif isinstance(fields, list):
        values = fields
    else:
        return None
    for value in values:
        found = vendor_quantity(value, remote_id)
        if found is not None:
            return found
    return None


def _same(a: Any, b: Any) -> bool:
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except ArithmeticError:
        return str(a) == str(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vendor", action="append", help="default: every vendor")
    args = parser.parse_args()
    print(json.dumps([run_vendor(v) for v in (args.vendor or registered_vendors())]))


if __name__ == "__main__":
    main()

"""The webhook receiver and the targeted fetches it schedules.

`POST /webhooks/{account}[/{secret}]`: the request is authenticated first (StrawBlond's HMAC
signature, Automa's authorization header, Offorte's secret path token) — a failure gets 401
and causes no request and no change. An authentic event is only a *hint*: it is recorded
(duplicates recognised by event id) and queues a targeted fetch of that record, which the
daemon performs within the account's budget at webhook priority. Vendor data is never
written from a webhook payload.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import delete, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from syncd.canonical import Entity
from syncd.db.bulk import dialect_insert
from syncd.db.tables import pending_fetches, webhook_events
from syncd.engine.fetch import Fetched, fetch_and_apply
from syncd.engine.runtime import DbTokenStore, Runtime
from syncd.errors import SyncdError
from syncd.http.budget import Priority
from syncd.http.client import AccountClient, priority
from syncd.vendors.base import Connector, Subscription, default_fingerprint

log = logging.getLogger("syncd.webhooks")


def webhook_secret(runtime: Runtime, account_name: str) -> str:
    """The account's webhook secret: from settings, else the one the vendor issued at
    `syncd webhooks register` (StrawBlond generates its signing secret itself).
    """
    settings = runtime.settings.account(account_name)
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    stored = DbTokenStore(runtime.db, f"{account_name}#webhook", runtime.clock).load() or {}
    return stored.get("webhook_secret", "")


def receive(runtime: Runtime, account_name: str, headers: dict[str, str], body: bytes,
            path_secret: str | None) -> tuple[int, dict[str, Any]]:
    """Authenticate and queue; returns (HTTP status, JSON answer)."""
    try:
        runtime.settings.account(account_name)
    except SyncdError:
        return 404, {"error": "unknown account"}
    account = runtime.account(account_name)
    secret = webhook_secret(runtime, account_name)
    if not secret or not account.connector.authenticate_webhook(headers, body, path_secret, secret):
        log.warning("account=%s webhook rejected: authentication failed", account_name)
        return 401, {"error": "unauthenticated"}
    try:
        payload = json.loads(body)
    except ValueError:
        return 400, {"error": "body is not JSON"}
    hints = account.connector.webhook_hints(payload)
    queued = 0
    now = runtime.clock.now()
    with runtime.db.begin() as conn:
        for hint in hints:
            fresh = conn.execute(
                dialect_insert(conn, webhook_events)
                .values(account=account_name, event_id=hint.event_id[:300], received_at=now)
                .on_conflict_do_nothing()
                .returning(webhook_events.c.event_id)
            ).first()
            if fresh is None:
                continue  # a duplicate delivery
            conn.execute(
                dialect_insert(conn, pending_fetches).values(
                    account=account_name, entity=str(hint.entity), remote_id=hint.remote_id,
                    deleted=hint.deleted, reason=hint.event[:100], created_at=now,
                ).on_conflict_do_nothing()
            )
            queued += 1
    return 202, {"queued": queued, "events": len(hints)}


def run_pending_fetches(runtime: Runtime, account_name: str) -> int:
    """Fetch every record webhooks pointed at, at webhook priority; returns records done."""
    with runtime.db.begin() as conn:
        todo = conn.execute(select(pending_fetches).where(
            pending_fetches.c.account == account_name)).mappings().all()
    done = 0
    with priority(Priority.WEBHOOK):
        for item in todo:
            if runtime.stop.is_set():
                break
            retire = delete(pending_fetches).where(
                pending_fetches.c.account == account_name,
                pending_fetches.c.entity == item["entity"],
                pending_fetches.c.remote_id == item["remote_id"])
            outcome = fetch_and_apply(runtime, account_name, Entity(item["entity"]),
                                      item["remote_id"], then=[retire])
            if outcome is not Fetched.FAILED:
                done += 1
    return done


def register(runtime: Runtime, account_name: str, public_url: str) -> Iterator[str]:
    """`syncd webhooks register`: create the account's missing vendor-side subscriptions.

    Idempotent: subscriptions the vendor already lists for the same target (or, where the
    vendor's list shows no target, the ones syncd made and remembered by id) are skipped,
    a deactivated one is switched on again where the vendor allows it. The secret stays
    the same across runs (from the settings, else the one stored at the first run) and is
    kept in the database after each subscription made. Yields a line to print per
    subscription (never containing the secret) as it is settled.
    """
    settings = runtime.settings.account(account_name)
    account = runtime.account(account_name)
    connector, client = account.connector, account.client
    store = DbTokenStore(runtime.db, f"{account_name}#webhook", runtime.clock)
    stored = store.load() or {}
    configured = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    known = configured or stored.get("webhook_secret")
    secret = known or secrets.token_urlsafe(32)
    made: dict[str, str] = json.loads(stored.get("subscriptions") or "{}")
    existing = connector.existing_webhooks(client)
    by_key = {s.key: s for s in existing if s.key}
    by_id = {s.id: s for s in existing}
    for request in connector.webhook_subscriptions(f"{public_url}/webhooks/{account_name}",
                                                   secret):
        label = f"{account_name}: {request.note or 'webhook subscription'}"
        key = connector.webhook_key(request)
        tag = default_fingerprint(key)  # remembered hashed: the key may hold the secret
        found = by_key.get(key) or by_id.get(made.get(tag, ""))
        if found is not None:
            yield _already(connector, client, found, label, known is not None)
            continue
        response = client.request(request.method, request.path, json=request.json,
                                  params=request.params, retry=False)
        body = client.decode(response)
        issued = connector.webhook_secret_from(body)
        created = connector.webhook_created_id(body)
        if created is not None:
            made[tag] = created
        if issued or configured is None:  # kept in the database, like OAuth tokens
            stored["webhook_secret"] = issued or secret
        stored["subscriptions"] = json.dumps(made, sort_keys=True)
        store.save(stored)
        yield f"{account_name}: {request.method} {request.path} ✓ ({request.note or 'subscribed'})"


def _already(connector: Connector, client: AccountClient, found: Subscription, label: str,
             secret_known: bool) -> str:
    """The line for a subscription the vendor already has (switched on again if it is off)."""
    if not secret_known:
        return (f"{label}: already subscribed, but syncd holds no secret for it (issued at "
                "its creation): delete it at the vendor and run register again")
    if found.active:
        return f"{label}: already subscribed"
    again = connector.webhook_reactivate(found)
    for request in again:
        client.request(request.method, request.path, json=request.json,
                       params=request.params, retry=False)
    if again:
        return f"{label}: already subscribed; it was deactivated, now active again"
    return f"{label}: already subscribed, but the vendor deactivated it: re-enable it there"


def make_app(runtime: Runtime, on_queued: Callable[[str], None],
             health: Callable[[], tuple[int, dict[str, Any]]],
             metrics: Callable[[], str]) -> Starlette:
    """The daemon's HTTP surface: webhooks, /healthz, /metrics."""

    async def hook(request: Request) -> Response:
        body = await request.body()
        account = request.path_params["account"]
        with runtime.db.urgent():  # the delivery's queue entry: before any page commit
            status, answer = receive(runtime, account, dict(request.headers), body,
                                     request.path_params.get("secret"))
        if status == 202 and answer.get("queued"):
            on_queued(account)
        return JSONResponse(answer, status_code=status)

    async def healthz(_: Request) -> Response:
        status, answer = health()
        return JSONResponse(answer, status_code=status)

    async def prom(_: Request) -> Response:
        return PlainTextResponse(metrics(), media_type="text/plain; version=0.0.4")

    return Starlette(routes=[
        Route("/webhooks/{account}", hook, methods=["POST"]),
        Route("/webhooks/{account}/{secret}", hook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", prom, methods=["GET"]),
    ])

"""Many sandbox accounts of one vendor, served from one process for `bench.scale`.

Each account is its own sandbox (own data, own budget at the vendor's real requests per
minute, own port), so the workers' process never serves them and one account's 429s are
only its own. Every request is logged with its arrival time and the client's TCP port
(which `bench.scale` maps to the worker process that holds the socket).

The process prints one JSON line (the accounts' settings entries), then answers one JSON
command per stdin line with one JSON line:

    {"op": "remote_edit", "account": "a", "remote_id": "7", "title": "t"}  -> {"ok": true}
    {"op": "titles", "wanted": {"a": "7", ...}}                  -> {"a": "t", ...}
    {"op": "pushed", "wanted": {"a": [remote_id, column, value, since]}}  -> ["a", ...]
    {"op": "writable"}        -> {"a": [remote_id, ...] or null (all), ...}
    {"op": "expected"}                                          -> {"a": proposals, ...}
    {"op": "log"}  -> {"a": [[time, client_port, method, path, status, server_port], ...]}
    {"op": "quit"}
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

from syncd.sandbox import sandbox_class
from syncd.sandbox.base import Sandbox, ServedApp

SIZES = {"companies": 2, "proposals": 30, "max_items": 2}


class Logged:
    """ASGI wrapper that notes (time, client port, method, path, status, server port) of
    each request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.entries: list[list[Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        entry: list[Any] = [time.time(), (scope.get("client") or ("", 0))[1], scope["method"],
                            scope["path"], 0, (scope.get("server") or ("", 0))[1]]
        with self.lock:
            self.entries.append(entry)

        async def noting(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                entry[4] = message["status"]
            await send(message)

        await self.app(scope, receive, noting)


def start(vendor: str, count: int, rpm: int, prefix: str, proposals: int
          ) -> dict[str, tuple[Sandbox, Logged]]:
    """Seed and serve `count` sandboxes; returns them by account name."""
    boxes: dict[str, tuple[Sandbox, Logged]] = {}
    for i in range(count):
        name = f"{prefix}{i:03d}"
        box = sandbox_class(vendor)(requests_per_minute=rpm)
        box.seed_data(**{**SIZES, "proposals": proposals}, seed=1000 + i)
        if vendor == "happyoffer":
            keep_one_sendable(box)
        logged = Logged(box.app)
        served = ServedApp(logged).start()
        box._base_url = served.url  # type: ignore[attr-defined]
        boxes[name] = (box, logged)
    return boxes


def keep_one_sendable(box: Sandbox) -> None:
    """Give a Happyoffer account one offer its API would send. The only local edit
    Happyoffer takes is status -> sent, refused for decided offers and offers past their
    `expiration_date`; the seeded offers date from 2024, so some seeds (ha026's) hold no
    offer of the user's own company that is live, undecided and without an expiry, and the
    benchmark would have no edit to push for that account."""
    from syncd.sandbox import happyoffer_data

    own = happyoffer_data.USER["company_id"]
    with box.lock:
        # a trashed offer (`deleted_at` set) is not in the mirror at all: ha039's first
        # undecided offer was one, and the run again found nothing to send
        offers = [o for o in box.collection("offers").values()
                  if o["attributes"]["company_id"] == own and not o["attributes"].get("deleted_at")]
        undecided = [o for o in offers if o["attributes"]["offer_status"] == "Not Yet Send"]
        offer = (undecided or offers)[0]
        offer["attributes"].update(offer_status="Not Yet Send", expiration_date=None,
                                   is_manually_rejected=False)


def pushed(box: Sandbox, logged: Logged, remote_id: str, column: str, value: str,
           since: float) -> bool:
    """Whether a local edit reached the vendor: the title it stores, or (another column) a
    write to that record answered 2xx since the edit."""
    if column == "title":
        return box.proposal_title(remote_id) == value
    with logged.lock:
        return any(t >= since and method != "GET" and 200 <= status < 300
                   and f"/{remote_id}/" in path + "/" for t, _, method, path, status, _ in logged.entries)


def writable(box: Sandbox) -> list[str] | None:
    """Remote ids of the proposals the vendor accepts writes to (None: all of them).

    Happyoffer lists its child companies' offers too but refuses (403) to send them; only
    the user's own company's offers can be sent.
    """
    if box.vendor != "happyoffer":
        return None
    from syncd.sandbox import happyoffer_data

    own = happyoffer_data.USER["company_id"]
    with box.lock:
        return [oid for oid, offer in box.collection("offers").items()
                if offer["attributes"]["company_id"] == own]


def answer(boxes: dict[str, tuple[Sandbox, Logged]], command: dict[str, Any]) -> Any:
    """One control command's answer."""
    op = command["op"]
    if op == "log":
        out = {}
        for name, (_, logged) in boxes.items():
            with logged.lock:
                out[name] = [list(e) for e in logged.entries]
        return out
    if op == "titles":
        return {name: boxes[name][0].proposal_title(rid) for name, rid in command["wanted"].items()}
    if op == "pushed":
        return [name for name, want in command["wanted"].items()
                if pushed(*boxes[name], *want)]
    if op == "writable":
        return {name: writable(box) for name, (box, _) in boxes.items()}
    if op == "expected":
        return {name: box.expected_counts()["proposals"] for name, (box, _) in boxes.items()}
    box = boxes[command["account"]][0]
    if op == "remote_edit":
        box.remote_edit_title(command["remote_id"], command["title"])
        return {"ok": True}
    raise ValueError(f"unknown op {op}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vendor", required=True)
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--rpm", type=int, default=30)
    parser.add_argument("--proposals", type=int, default=SIZES["proposals"])
    args = parser.parse_args()
    boxes = start(args.vendor, args.accounts, args.rpm, f"{args.vendor[:2]}", args.proposals)
    entries = [{**box.account_entry(name), "requests_per_minute": args.rpm}
               for name, (box, _) in boxes.items()]
    print(json.dumps(entries), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            break
        try:
            print(json.dumps(answer(boxes, command), default=str), flush=True)
        except Exception as exc:  # the bench reports it; the sandboxes keep serving
            print(json.dumps({"error": repr(exc)}), flush=True)


if __name__ == "__main__":
    main()

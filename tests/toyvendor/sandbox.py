"""The toy vendor's API on loopback (see connector.py for its shape) and its seeded data."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from syncd.sandbox.base import Sandbox

API_KEY = "toy-sandbox-key"
PAGE = 25
STATES = ("draft", "sent", "won", "lost")


class ToySandbox(Sandbox):
    """Proposals with embedded items: list (paged), get, create, patch, delete."""

    vendor = "toy"

    def routes(self) -> None:
        self.route("/proposals", self.list_proposals, ["GET"])
        self.route("/proposals", self.create, ["POST"])
        self.route("/proposals/{pid}", self.get_one, ["GET"])
        self.route("/proposals/{pid}", self.patch, ["PATCH"])
        self.route("/proposals/{pid}", self.delete, ["DELETE"])

    def authenticate(self, request: Request) -> Response | None:
        if request.headers.get("x-api-key") != API_KEY:
            return self.error(401, "bad key")
        return None

    # ---- the API ----------------------------------------------------------------------
    @property
    def proposals(self) -> dict[str, dict[str, Any]]:
        return self.collection("proposals")

    def _stamp(self, record: dict[str, Any]) -> None:
        record["updated_at"] = datetime.fromtimestamp(self.clock.time(), UTC).isoformat()

    async def list_proposals(self, request: Request) -> Response:
        page = int(request.query_params.get("page", "1"))
        with self.lock:
            ordered = [self.proposals[k] for k in sorted(self.proposals, key=int)]
            return JSONResponse({"data": ordered[(page - 1) * PAGE:page * PAGE]})

    async def get_one(self, request: Request) -> Response:
        with self.lock:
            found = self.proposals.get(request.path_params["pid"])
            return JSONResponse(found) if found else self.error(404, "not found")

    async def create(self, request: Request) -> Response:
        body = json.loads(await request.body())
        with self.lock:
            pid = str(self.new_id())
            record = {"id": pid, "number": f"T-{pid}", "title": body.get("title"),
                      "state": body.get("state", "draft"), "currency": body.get("currency", "EUR"),
                      "total": 0.0, "marker": body.get("marker"), "items": []}
            for item in body.get("items") or []:
                record["items"].append({"id": str(self.new_id()), **item})
            record["total"] = sum(i["qty"] * i["price"] for i in record["items"])
            self._stamp(record)
            self.proposals[pid] = record
            return JSONResponse(record, status_code=201)

    async def patch(self, request: Request) -> Response:
        body = json.loads(await request.body())
        with self.lock:
            record = self.proposals.get(request.path_params["pid"])
            if record is None:
                return self.error(404, "not found")
            record.update({k: v for k, v in body.items() if k in ("title", "state", "currency")})
            self._stamp(record)
            return JSONResponse(record)

    async def delete(self, request: Request) -> Response:
        with self.lock:
            if self.proposals.pop(request.path_params["pid"], None) is None:
                return self.error(404, "not found")
            return Response(status_code=204)

    # ---- the standard-suite contract ----------------------------------------------------
    def seed_data(self, *, companies: int = 20, proposals: int = 120, max_items: int = 20,
                  seed: int = 7) -> None:
        rng = random.Random(seed)
        with self.lock:
            for n in range(proposals):
                pid = str(self.new_id())
                items = [{"id": str(self.new_id()), "name": f"Item {i}", "qty": rng.randint(1, 5),
                          "price": rng.randint(100, 9999) / 100}
                         for i in range(rng.randint(1, max(1, max_items)))]
                record = {"id": pid, "number": f"T-{pid}", "title": f"Proposal {n}",
                          "state": STATES[n % len(STATES)], "currency": "EUR",
                          "total": round(sum(i["qty"] * i["price"] for i in items), 2),
                          "marker": None, "items": items}
                self._stamp(record)
                self.proposals[pid] = record

    def account_entry(self, name: str) -> dict[str, Any]:
        return {"name": name, "vendor": self.vendor, "base_url": self.base_url(),
                "requests_per_minute": self.requests_per_minute, "auth": {"api_key": API_KEY}}

    def expected_counts(self) -> dict[str, int]:
        with self.lock:
            return {"proposals": len(self.proposals),
                    "line_items": sum(len(p["items"]) for p in self.proposals.values())}

    def lower_bound_requests(self) -> int:
        """Full pages, then the short page that ends the list (empty for exact multiples)."""
        with self.lock:
            return len(self.proposals) // PAGE + 1

    def corrupt_one_record(self) -> str:
        with self.lock:
            pid = sorted(self.proposals, key=int)[len(self.proposals) // 2]
            self.proposals[pid]["items"] = "see the web page"
            return pid

    def remote_edit_title(self, remote_id: str, title: str) -> None:
        with self.lock:
            self.proposals[remote_id]["title"] = title
            self._stamp(self.proposals[remote_id])

    def proposal_title(self, remote_id: str) -> str | None:
        with self.lock:
            found = self.proposals.get(remote_id)
            return None if found is None else found["title"]

    def remote_edit_other(self, remote_id: str) -> tuple[str, Any]:
        with self.lock:
            record = self.proposals[remote_id]
            record["currency"] = "USD" if record["currency"] != "USD" else "GBP"
            self._stamp(record)
            return "currency", record["currency"]

    def proposal_fields(self, remote_id: str) -> dict[str, Any]:
        with self.lock:
            record = copy.deepcopy(self.proposals[remote_id])
        record.pop("updated_at", None)
        return record

    def new_proposal_refs(self) -> dict[str, str | None]:
        return {"company_id": None, "contact_id": None}

    def count_proposals(self) -> int:
        with self.lock:
            return len(self.proposals)

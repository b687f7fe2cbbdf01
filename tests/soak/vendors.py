"""Where each sandbox keeps its proposals: what the soak's invariants read at the vendor.

The sandboxes' own helpers (`proposal_title`, `remote_edit_title`, `remote_edit_other`,
`count_proposals`) cover edits and counts; the soak also needs every live proposal's id
(to find duplicates a lost create answer could leave) and a way to delete one the way a
user of the vendor's UI would. Those are the only vendor-specific lines of the soak.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from syncd.sandbox import happyoffer_data
from syncd.sandbox.base import Sandbox


def live_ids(box: Sandbox) -> list[str]:
    """Remote ids of the proposals the vendor holds and a full pull mirrors as live."""
    with box.lock:
        if box.vendor == "offorte":
            return [k for k, p in box.proposals.items() if not p.get("deleted")]  # type: ignore[attr-defined]
        if box.vendor == "strawblond":
            return [k for k, o in box.collection("offers").items() if o["deleted_at"] is None]
        if box.vendor == "quickquote":
            return list(box.quotes)  # type: ignore[attr-defined]
        if box.vendor == "happyoffer":
            return list(box.live_offers())  # type: ignore[attr-defined]
        if box.vendor == "automa":
            return list(box.collection("quotes"))
    raise LookupError(box.vendor)


def titles(box: Sandbox) -> dict[str, str | None]:
    """Live remote id -> the title the vendor stores (its word for syncd's `title`)."""
    return {rid: box.proposal_title(rid) for rid in live_ids(box)}


def can_remote_delete(vendor: str) -> bool:
    """Automa.Net quotes cannot be deleted (only declined), at the vendor or through syncd."""
    return vendor != "automa"


def remote_delete(box: Sandbox, remote_id: str) -> None:
    """Delete a proposal as the vendor's UI would (soft where the vendor keeps a trash)."""
    with box.lock:
        if box.vendor == "offorte":
            proposal: dict[str, Any] = box.proposals[remote_id]  # type: ignore[attr-defined]
            proposal["deleted"] = True
        elif box.vendor == "strawblond":
            offer = box.collection("offers")[remote_id]
            offer["deleted_at"] = offer["updated_at"] = box._now()  # type: ignore[attr-defined]
        elif box.vendor == "quickquote":
            del box.quotes[remote_id]  # type: ignore[attr-defined]
        elif box.vendor == "happyoffer":
            attrs = box.collection("offers")[remote_id]["attributes"]
            attrs["deleted_at"] = happyoffer_data.laravel_time(box.now())  # type: ignore[attr-defined]
            box._touch(attrs)  # type: ignore[attr-defined]
        else:
            raise LookupError(f"{box.vendor} has no delete")


# ---- remote creates -----------------------------------------------------------------------
def remote_create(box: Sandbox, title: str) -> str | None:
    """A proposal made at the vendor by one of its users (no syncd marker, no line items):
    a copy of the vendor's oldest live seeded proposal under a new id. Returns its id."""
    with box.lock:
        seeded = live_ids(box)  # the lock is re-entrant
        if not seeded:
            return None
        source = seeded[0]
        if box.vendor == "offorte":
            store: dict[str, Any] = box.proposals  # type: ignore[attr-defined]
            new = copy.deepcopy(store[source])
            new["id"], new["version_id"] = box.new_id(), box.new_id()
            new.update(name=title, proposal_nr=str(5000 + new["id"]), pricetables=[],
                       remarks="", status="edit", created=int(box.clock.time()))
            store[str(new["id"])] = new
            box._touch(new)  # type: ignore[attr-defined]
        elif box.vendor == "strawblond":
            offers = box.collection("offers")
            new = copy.deepcopy(offers[source])
            new["id"] = box._new_hashid()  # type: ignore[attr-defined]
            new["seq"] = max(o["seq"] for o in offers.values()) + 1
            now = box._now()  # type: ignore[attr-defined]
            new.update(number=f"S-{new['seq']}", name=title, custom_fields={},
                       approved_at=None, rejected_at=None, locked_at=None,
                       created_at=now, updated_at=now, deleted_at=None)
            offers[new["id"]] = new
        elif box.vendor == "quickquote":
            quotes: dict[Any, Any] = box.quotes  # type: ignore[attr-defined]
            new = copy.deepcopy(quotes[source])
            new["id"] = box.new_id()
            new.update(quote_number=max(q["quote_number"] for q in quotes.values()) + 1,
                       internal_notes=title, status="Created", tags=None, line_items=[])
            quotes[type(source)(new["id"])] = new
            box._touch(new)  # type: ignore[attr-defined]
        elif box.vendor == "happyoffer":
            offers = box.collection("offers")
            new = copy.deepcopy(offers[source])
            # the sandbox numbers the offers it creates max + 1 (so does Happyoffer's own
            # auto-increment): a separate counter once overwrote a local create's offer
            # (make soak, seed 14, batch 19, episode 23: `created_row_lost`)
            new["id"] = str(max(int(k) for k in offers) + 1)
            attrs = new["attributes"]
            attrs.update(name=title, offer_number=f"S-{new['id']}", deleted_at=None)
            new["relationships"]["notification"]["offer_id"] = new["id"]
            offers[new["id"]] = new
            box._touch(attrs)  # type: ignore[attr-defined]
        elif box.vendor == "automa":
            quotes = box.collection("quotes")
            new = copy.deepcopy(quotes[source])
            new["uuid"] = str(uuid.uuid4())
            new.update(number=f"S/{new['uuid'][:8]}", note=title, reference_number=None,
                       items=[], updated_at=box.now(), created_at=box.now())  # type: ignore[attr-defined]
            quotes[new["uuid"]] = new
            box._changed("QUOTE_RECEIVED", new)  # type: ignore[attr-defined]
        else:
            raise LookupError(box.vendor)
        return str(new.get("uuid") or new["id"])


# ---- local edits of a field other than the title -------------------------------------------
# vendor -> the canonical proposal field a local edit changes besides the title (written to
# the vendor where it is writable there: Automa and Happyoffer store `number`)
OTHER_WRITABLE = {"automa": "number", "happyoffer": "number"}
STAMPLESS = ("quickquote",)  # records carry no modification time (vendors.md)


def read_since(box: Sandbox, remote_id: str, mark: int) -> bool:
    """Whether syncd read the record (a list page, the record itself, or its write's
    answer) after the sandbox's `mark`-th request; only Quick Quote is asked."""
    with box.lock:
        seen = list(box.requests[mark:])
    mine = f"/quotes/{remote_id}"
    return any(r.status == 200 and (
        (r.method == "GET" and (r.path.endswith("/quotes") or r.path.endswith(mine)))
        or (r.method == "PUT" and r.path.endswith(mine))) for r in seen)


def vendor_value(box: Sandbox, remote_id: str, name: str) -> Any:
    """What the vendor stores for syncd's proposal field `name` (only `OTHER_WRITABLE`)."""
    with box.lock:
        if box.vendor == "automa":
            return box.collection("quotes")[remote_id].get(name)
        if box.vendor == "happyoffer" and name == "number":
            return box.collection("offers")[remote_id]["attributes"].get("offer_number")
    raise LookupError(f"{box.vendor} {name}")


# ---- webhook deliveries -------------------------------------------------------------------
DEAD_URL = "http://127.0.0.1:9/nowhere"  # where the vendor "sends" a delivery the soak holds
WEBHOOK_VENDORS = ("automa", "offorte", "strawblond")
WEBHOOK_SECRET = {"strawblond": "soak-whsec-0123456789abcdef",
                  "offorte": "soak-offorte-path-token-0123456789",
                  "automa": "sandbox-webhook-secret"}  # the seeded Automa subscriptions'


def webhook_delivery(box: Sandbox, remote_id: str, receiver: str) -> tuple[str, bytes,
                                                                            dict[str, str]]:
    """The delivery the vendor makes for an edit of `remote_id`, held instead of sent (the
    soak chooses when, how often and in which order it reaches the daemon at `receiver`,
    `http://host:port/webhooks/ACCOUNT`): (url, raw body, headers)."""
    json_type = {"Content-Type": "application/json"}
    if box.vendor == "strawblond":
        sent = box.emit_webhook("offer.updated", remote_id, url=DEAD_URL)  # type: ignore[attr-defined]
        return receiver, sent[-1]["body"], {
            **json_type, "X-StrawBlond-Webhook-Signature": sent[-1]["signature"]}
    if box.vendor == "offorte":
        box.emit_webhook("proposal_details_updated", int(remote_id), url=DEAD_URL)  # type: ignore[attr-defined]
        with box.lock:
            payload = box.webhook_deliveries[-1]["payload"]
        return (f"{receiver}/{WEBHOOK_SECRET['offorte']}", json.dumps(payload).encode(),
                json_type)
    if box.vendor == "automa":
        box.emit_webhook("QUOTE_RECEIVED", remote_id, url=DEAD_URL)  # type: ignore[attr-defined]
        with box.lock:
            sent = box.webhook_deliveries[-1]
        return receiver, json.dumps(sent["payload"]).encode(), {
            **json_type, "Authorization": sent["headers"]["Authorization"]}
    raise LookupError(f"{box.vendor} sends no webhooks")

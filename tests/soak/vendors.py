"""Where each sandbox keeps its proposals: what the soak's invariants read at the vendor.

The sandboxes' own helpers (`proposal_title`, `remote_edit_title`, `remote_edit_other`,
`count_proposals`) cover edits and counts; the soak also needs every live proposal's id
(to find duplicates a lost create answer could leave) and a way to delete one the way a
user of the vendor's UI would. Those are the only vendor-specific lines of the soak.
"""

from __future__ import annotations

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

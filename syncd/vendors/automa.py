"""Automa.Net (B2B automation-parts marketplace): quotes found through the webhook call log.

Automa.Net has no list of quotes and no "updated since" filter. What it has is a log of
every webhook call it made (`GET /webhooks/calls`, oldest first, LastPage-paginated):

    {"data": {"items": [{"uuid": "...", "webhookUuid": "...", "status": "SUCCESS",
      "eventObjectUuid": "<quote uuid>", "eventObject": {...},
      "result": {"requestBody": {"eventType": "QUOTE_ACCEPTED", "objectUuid": "...",
                                 "timestamp": 1718000000000, ...},
                 "responseBody": {}, "status": "200", "url": "..."},
      "createdAt": "2024-06-10T08:00:00.000Z", ...}],
      "perPage": 100, "currentPage": 3, "lastPage": 3, "total": 212}}

So the `webhook_calls` stream is an append-only log (`keep_cursor`): a run continues at the
page where the previous one ended. Its record id is the *object* uuid (the quote) and its
fingerprint the entry's createdAt/eventType/uuid, so a quote is fetched (`GET /quotes/{uuid}`,
the DetailSpec) only when a newer log entry about it appears. The log never proves that a
quote is gone (`deletes_missing=False`); a 404 on the quote fetch does. The seed's log entry
carries no top-level `eventType`/`objectUuid`: they are read from `result.requestBody` (the
payload Automa sent) with `eventObjectUuid` as the object uuid. The stream's paginator keeps,
per page, only the newest QUOTE_* entry of each quote: orders, payments and RFQ events have
no quote to fetch (RFQs have streams of their own), and older entries are superseded.

Caveat: only calls to *subscribed* event types are logged, and a seller's own edits fire no
event, so `syncd webhooks register` (one subscription per QUOTE_* event) is a prerequisite,
and a quote edited in Automa's UI without a buyer event reaches the mirror only when the
next QUOTE_* event about it arrives.

Mapping (quotes are snake_case): quote -> proposal (`note` is the title, `number` the
number, `totals.grand_price.final` the totals), `buyer.company` -> company, `buyer.user`
-> contact, `items[]` -> line items (`offer.mpn` -> sku, brand + mpn -> name). Money and
tax are decimal strings. RFQs (camelCase, `GET /rfqs/received|sent`) have no canonical
home: the buyer company of a received RFQ carries no uuid. They are kept as extras ("rfqs").

Deletions: a 404 on the quote fetch marks the proposal (and its line items) deleted.
Companies and contacts exist only inside quotes and Automa has no list of them, so syncd
never marks them deleted: a deleted quote does not prove its buyer is gone.

Writes: Put Quote is a full replacement (omitted items are deleted, omitted note is
cleared) and is accepted only while the quote is a draft, so every update is built from
the last fetched quote (`raw`) + the changes + the current line items. Status: `sent` ->
`POST /quotes/{uuid}/send`, `rejected` -> `POST /quotes/{uuid}/decline`. Create:
`POST /quotes` for the buyer's *contractor* (`contractor_uuid` from the company's raw JSON,
so the company must have been pulled from Automa) with `referenceNumber` = syncd's marker;
a lost response is found again in the newest call-log entries (<= 2 requests).

Status words (`status.name`): only "draft" is shown in the seed; the help centre's flow
(create, send, accept, decline, expire) gives the others. A sent quote with tracked
openings is canonical `viewed`. Anything else is quarantined.

Auth: `Authorization: Bearer <api_key>`. 30 requests/min; 429 carries Retry-After.
Paths (`[accounts.paths]` keys): `webhook_calls`, `webhook_calls.quote` (the detail),
`rfqs_received`, `rfqs_sent`, `quote`, `quote_create`, `quote_put`, `quote_send`,
`quote_decline`, `webhooks`.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StrictFloat,
    StrictInt,
    ValidationError,
    model_validator,
)

from syncd.canonical import Bundle, Entity, ProposalStatus
from syncd.errors import BadRecord, VendorError, VendorRefused, VendorUnsupported
from syncd.http.auth import BearerAuth
from syncd.http.paginators import LastPagePaginator
from syncd.parsing import parse_datetime, parse_decimal, parse_id
from syncd.vendors.base import (
    Connector,
    DetailSpec,
    Op,
    StreamSpec,
    Subscription,
    TokenStore,
    VendorClient,
    WebhookHint,
    WriteRequest,
    default_fingerprint,
    register,
)

PAGE_SIZE = 100  # assumed maximum perPage (the seed gives only the default, 20)
QUOTE_EVENTS = ("QUOTE_ACCEPTED", "QUOTE_RECEIVED", "QUOTE_DECLINED", "QUOTE_EXPIRED",
                "QUOTE_OPENING_TRACKED")
DECLINE_REASON = "Declined in syncd"
NO_PARTIES = "Automa.Net {what} belong to the buyer's platform account; the API cannot edit them"


# ---- record models ---------------------------------------------------------------------------
def _decimal_text(value: str) -> str:
    parse_decimal(value)  # raises ValueError on "12,5", "abc"
    return value


def _date_text(value: str) -> str:
    parse_datetime(value)
    return value


DecimalStr = Annotated[str, AfterValidator(_decimal_text)]
DateStr = Annotated[str, AfterValidator(_date_text)]
Number = StrictInt | StrictFloat


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Country(_Model):
    id: int | None = None
    code: str | None = None


class Phone(_Model):
    code: str | None = None
    number: str | None = None


class Address(_Model):
    city: str | None = None
    country: Country | None = None
    post_code: str | None = None
    line1: str | None = None
    line2: str | None = None
    state: str | None = None
    company_name: str | None = None
    email: str | None = None
    phone: Phone | None = None


class EuVat(_Model):
    code: str | None = None
    number: str | None = None


class QuoteCompany(_Model):
    uuid: str
    contractor_uuid: str | None = None
    name: str | None = None
    number: str | None = None
    eu_vat: EuVat | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None


class QuoteUser(_Model):
    uuid: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    phone_code: str | None = None


class Party(_Model):
    type: str | None = None
    company: QuoteCompany | None = None
    user: QuoteUser | None = None


class QuoteStatus(_Model):
    name: str
    set_at: DateStr | None = None
    reason: str | None = None


class Amounts(_Model):
    nett_amount: DecimalStr | None = None
    gross_amount: DecimalStr | None = None
    tax_amount: DecimalStr | None = None


class PricePair(_Model):
    regular: Amounts | None = None
    final: Amounts | None = None


class Named(_Model):
    name: str | None = None


class Offer(_Model):
    uuid: str | None = None
    mpn: str | None = None
    brand: Named | None = None
    condition: Named | None = None
    description: str | None = None


class Discount(_Model):
    type: str
    percentage: Number | None = None
    amount: DecimalStr | None = None


class QuoteItem(_Model):
    uuid: str
    offer: Offer | None = None
    quantity: Number
    unit_nett_price: DecimalStr
    tax_rate: DecimalStr | None = None
    discount: Discount | None = None
    total_price: PricePair | None = None


class AdditionalCost(_Model):
    name: str | None = None
    nett_price: DecimalStr | None = None
    tax_rate: DecimalStr | None = None


class Totals(_Model):
    grand_price: PricePair | None = None


class Quote(_Model):
    """One quote (`GET /quotes/{uuid}` -> `{"data": {...}}`, webhook `object`)."""

    uuid: str
    number: str | None = None
    note: str | None = None
    currency: Literal["PLN", "EUR", "USD", "GBP"]
    buyer: Party
    seller: Party | None = None
    additional_costs: list[AdditionalCost] = []
    status: QuoteStatus
    items: list[QuoteItem]
    tracked_openings: list[dict[str, Any]] = []
    totals: Totals | None = None
    created_at: DateStr | None = None
    updated_at: DateStr | None = None
    expires_at: DateStr | None = None


class CallLogEntry(_Model):
    uuid: str
    webhookUuid: str | None = None
    status: str | None = None
    eventObjectUuid: str | None = None
    createdAt: DateStr


class CallRecord(_Model):
    """A call-log entry merged with the quote fetched for it (None for other events)."""

    call: CallLogEntry
    quote: Quote | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_entry(cls, data: Any) -> Any:
        """An entry whose detail was not fetched arrives unmerged."""
        if isinstance(data, dict) and "call" not in data:
            return {"call": data, "quote": None}
        return data


class RfqItem(_Model):
    uuid: str | None = None
    quantity: Number | None = None
    deliveryTime: str | None = None


class Rfq(_Model):
    """A received or sent request for quotation (camelCase, unlike quotes)."""

    uuid: str
    number: str | None = None
    placedAt: DateStr | None = None
    declinedAt: DateStr | None = None
    items: list[RfqItem] = []


# ---- call-log helpers ------------------------------------------------------------------------
def _request_body(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    result = entry.get("result")
    body = result.get("requestBody") if isinstance(result, Mapping) else None
    return body if isinstance(body, Mapping) else {}


def entry_event_type(entry: Mapping[str, Any]) -> str | None:
    """The event of a log entry: top-level if present, else the payload Automa sent."""
    word = entry.get("eventType") or _request_body(entry).get("eventType")
    return str(word) if word else None


def entry_object_uuid(entry: Mapping[str, Any]) -> str:
    """The uuid of the object the logged call was about (the stream's record id)."""
    obj = entry.get("eventObject")
    for value in (entry.get("eventObjectUuid"), entry.get("objectUuid"),
                  _request_body(entry).get("objectUuid"),
                  obj.get("uuid") if isinstance(obj, Mapping) else None):
        if value:
            return str(value)
    raise KeyError("call-log entry names no object uuid")


def is_quote_entry(entry: Mapping[str, Any]) -> bool:
    return (entry_event_type(entry) or "").startswith("QUOTE_")


def entry_fingerprint(entry: Mapping[str, Any]) -> str:
    """Changes only with a newer entry about the same object (never with re-reading)."""
    return default_fingerprint([entry.get("createdAt"), entry_event_type(entry), entry.get("uuid")])


def _merge_call(entry: dict[str, Any], quote: Any) -> dict[str, Any]:
    return {"call": entry, "quote": quote}


class CallLogPaginator(LastPagePaginator):
    """LastPage paging over the call log that keeps, per page, only the newest QUOTE_* entry
    of each object.

    Older entries about the same quote are superseded (one fetch of the current quote answers
    them all; without this, a quote logged twice on the re-read last page would be fetched
    again on every run, its fingerprint flipping between the two entries), and entries about
    orders, payments and RFQs have no quote to fetch (the RFQ lists are streams of their
    own). The engine processes a page's records after `update`, so filtering the list here
    saves those requests; the position (page numbers) does not change.
    """

    def update(self, body: Any, records: list[Any]) -> None:
        super().update(body, records)
        latest: dict[str, int] = {}
        for index, rec in enumerate(records):
            if isinstance(rec, dict) and is_quote_entry(rec):
                with contextlib.suppress(KeyError):
                    latest[entry_object_uuid(rec)] = index
        records[:] = [records[i] for i in sorted(latest.values())]


# ---- mapping ---------------------------------------------------------------------------------
def _phone(code: str | None, number: str | None) -> str | None:
    text = " ".join(p for p in (code, number) if p)
    return text or None


def _vat(vat: EuVat | None) -> str | None:
    if vat is None or not vat.number:
        return None
    code = vat.code or ""
    return vat.number if vat.number.upper().startswith(code.upper()) else f"{code}{vat.number}"


def _company_row(company: QuoteCompany, raw: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"remote_id": company.uuid, "raw": raw,
                           "name": company.name, "registration_number": company.number,
                           "vat_number": _vat(company.eu_vat)}
    address = company.billing_address
    if address is not None:
        street = ", ".join(p for p in (address.line1, address.line2) if p) or None
        phone = address.phone or Phone()
        row.update(street=street, postal_code=address.post_code, city=address.city,
                   state=address.state, email=address.email,
                   country=address.country.code if address.country else None,
                   phone=_phone(phone.code, phone.number))
        if not company.name:
            row["name"] = address.company_name
    return row


def _contact_row(user: QuoteUser, company_uuid: str | None, raw: dict[str, Any]) -> dict[str, Any]:
    full = " ".join(p for p in (user.first_name, user.last_name) if p) or None
    return {"remote_id": user.uuid, "raw": raw, "company_id": company_uuid,
            "first_name": user.first_name, "last_name": user.last_name, "full_name": full,
            "email": user.email, "phone": _phone(user.phone_code, user.phone)}


def _item_row(quote_uuid: str, index: int, item: QuoteItem, raw: dict[str, Any]) -> dict[str, Any]:
    offer = item.offer or Offer()
    brand = offer.brand.name if offer.brand else None
    final = item.total_price.final if item.total_price else None
    regular = item.total_price.regular if item.total_price else None
    row: dict[str, Any] = {
        "remote_id": item.uuid, "proposal_remote_id": quote_uuid, "position": index + 1,
        "sku": offer.mpn, "name": " ".join(p for p in (brand, offer.mpn) if p) or None,
        "description": offer.description, "quantity": parse_decimal(item.quantity),
        "unit_price": parse_decimal(item.unit_nett_price),
        "tax_rate": parse_decimal(item.tax_rate), "raw": raw,
    }
    if final is not None:
        row["total_net"] = parse_decimal(final.nett_amount)
        if regular is not None and regular.nett_amount and final.nett_amount:
            # the discount as money, whatever the vendor's discount type was
            row["discount"] = Decimal(regular.nett_amount) - Decimal(final.nett_amount)
    return row


def map_quote(connector: Connector, quote: Quote, raw: dict[str, Any]) -> Bundle:
    """One quote -> its proposal, buyer company, buyer user and complete line items."""
    bundle = Bundle()
    status = connector.map_status(quote.status.name)
    if status == ProposalStatus.SENT and quote.tracked_openings:
        status = ProposalStatus.VIEWED
    company = quote.buyer.company
    user = quote.buyer.user
    raw_buyer = raw.get("buyer") or {}
    proposal: dict[str, Any] = {
        "remote_id": quote.uuid, "number": quote.number, "title": quote.note,
        "status": status, "vendor_status": quote.status.name, "currency": quote.currency,
        "created_at": parse_datetime(quote.created_at),
        "updated_at": parse_datetime(quote.updated_at),
        "expires_at": parse_datetime(quote.expires_at), "raw": raw,
    }
    final = quote.totals.grand_price.final if quote.totals and quote.totals.grand_price else None
    if final is not None:
        proposal.update(total_net=parse_decimal(final.nett_amount),
                        total_tax=parse_decimal(final.tax_amount),
                        total_gross=parse_decimal(final.gross_amount))
    set_at = parse_datetime(quote.status.set_at)
    if status in (ProposalStatus.SENT, ProposalStatus.VIEWED) and set_at:
        proposal["sent_at"] = set_at
    if status in (ProposalStatus.ACCEPTED, ProposalStatus.REJECTED) and set_at:
        proposal["decided_at"] = set_at
    if company is not None:
        proposal["company_id"] = company.uuid
        bundle.companies.append(_company_row(company, raw_buyer.get("company") or {}))
    if user is not None and user.uuid:
        proposal["contact_id"] = user.uuid
        bundle.contacts.append(
            _contact_row(user, company.uuid if company else None, raw_buyer.get("user") or {}))
    bundle.proposals.append(proposal)
    raw_items = raw.get("items") or []
    for index, item in enumerate(quote.items):
        bundle.line_items.append(_item_row(quote.uuid, index, item, raw_items[index]))
    bundle.complete_line_items.add(quote.uuid)
    return bundle


def map_call(connector: Connector, record: CallRecord, raw: dict[str, Any]) -> Bundle:
    """A quote entry maps its freshly fetched quote; any other entry is kept as an extra."""
    entry = raw.get("call", raw)
    if record.quote is not None and is_quote_entry(entry):
        return map_quote(connector, record.quote, raw["quote"])
    return Bundle(extras=[("webhook_calls", record.call.uuid, entry)])


def map_rfq(connector: Connector, rfq: Rfq, raw: dict[str, Any]) -> Bundle:
    return Bundle(extras=[("rfqs", rfq.uuid, raw)])


def normalize_delivery_time(word: str | None) -> str | None:
    """Responses say "ANY"/"NEXT_DAY", requests take "Any"/"Next Day": one spelling out."""
    if word is None:
        return None
    key = word.strip().upper().replace("_PLUS_", "+").replace(" ", "").replace("_", "")
    return _DELIVERY.get(key.replace("-", ""), word)


_DELIVERY = {w.upper().replace(" ", "").replace("-", ""): w for w in (
    "Emergency", "Next Day", "2-3 Days", "4-6 Days", "7-10 Days", "10+ Days", "Any")}


def _money(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}"


def _number(value: Any) -> int | float:
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


def _put_date(value: Any) -> str | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    parsed = parse_datetime(value)
    return parsed.date().isoformat() if parsed else None


def _pick(source: Mapping[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: source[k] for k in keys if source and k in source}


_ADDRESS = ("city", "country", "post_code", "line1", "line2", "state", "company_name",
            "first_name", "last_name", "phone")
_USER = ("uuid", "first_name", "last_name", "phone", "phone_code")
_OFFER = ("uuid", "mpn", "lead_time", "warranty", "description", "condition", "brand", "price",
          "weight", "quantity", "custom1", "custom2", "sku", "company_uuid")
_ITEM = ("uuid", "offer", "required_delivery", "delivery_time", "ships_in", "quantity",
         "unit_nett_price", "tax_rate", "discount", "note")


@register
class AutomaConnector(Connector):
    """Automa.Net: the webhook call log discovers quotes; Put Quote rewrites them whole."""

    vendor = "automa"
    line_items_via_parent = True
    refresh_before_update = True  # Put replaces the whole quote: re-read it first
    streams = (
        StreamSpec(
            name="webhook_calls", path="/webhooks/calls",
            paginator=lambda size, state: CallLogPaginator(size, state),
            model=CallRecord, map=map_call, entity=Entity.PROPOSALS, page_size=PAGE_SIZE,
            records_path=("data", "items"), params={"order": "asc", "orderBy": "createdAt"},
            id_of=entry_object_uuid, fingerprint=entry_fingerprint,
            detail=DetailSpec(path="/quotes/{id}", name="quote", records_path=("data",),
                              id_of=entry_object_uuid, merge=_merge_call),
            deletes_missing=False, keep_cursor=True,
        ),
        *(
            StreamSpec(
                name=f"rfqs_{kind}", path=f"/rfqs/{kind}",
                paginator=lambda size, state: LastPagePaginator(size, state),
                model=Rfq, map=map_rfq, entity="rfqs", page_size=PAGE_SIZE,
                records_path=("data", "items"), id_of=lambda rec: str(rec["uuid"]),
                deletes_missing=False,
            )
            for kind in ("received", "sent")
        ),
    )
    status_map = {
        "draft": ProposalStatus.DRAFT,
        "sent": ProposalStatus.SENT,
        "accepted": ProposalStatus.ACCEPTED,
        "declined": ProposalStatus.REJECTED,
        "expired": ProposalStatus.EXPIRED,
    }
    status_out = {ProposalStatus.SENT: "send", ProposalStatus.REJECTED: "decline"}
    capabilities = {
        (Entity.PROPOSALS, Op.CREATE): None,
        (Entity.PROPOSALS, Op.UPDATE): None,
        (Entity.PROPOSALS, Op.STATUS): None,
        (Entity.PROPOSALS, Op.SEND): None,
        (Entity.PROPOSALS, Op.DELETE): "Automa.Net has no API to delete a quote (decline it)",
        (Entity.LINE_ITEMS, Op.CREATE): None,
        (Entity.LINE_ITEMS, Op.UPDATE): None,
        (Entity.LINE_ITEMS, Op.DELETE): None,
        **{(e, op): NO_PARTIES.format(what=e) for e in (Entity.COMPANIES, Entity.CONTACTS)
           for op in (Op.CREATE, Op.UPDATE, Op.DELETE)},
    }
    writable_fields = {
        Entity.PROPOSALS: frozenset({"number", "title", "currency", "expires_at", "status"}),
        Entity.LINE_ITEMS: frozenset({"position", "sku", "description", "quantity",
                                      "unit_price", "tax_rate"}),
    }

    # ---- transport -------------------------------------------------------------------------
    def auth(self, tokens: TokenStore) -> httpx.Auth | None:
        return BearerAuth(self.account.secret("api_key") or "")  # syncd's choice for Automa

    def refusal_message(self, response: httpx.Response) -> str:
        """NestJS bodies: `message` is a string or a list of validation messages."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:300] or f"HTTP {response.status_code}"
        message = body.get("message") if isinstance(body, dict) else None
        if isinstance(message, list):
            return "; ".join(str(m) for m in message)[:500]
        return str(message or body)[:500]

    def _path(self, name: str, default: str, **ids: str) -> str:
        return self.account.path(name, default).format(**ids)

    # ---- create ----------------------------------------------------------------------------
    def plan_create(
        self, entity: Entity, row: dict[str, Any], children: list[dict[str, Any]], marker: str
    ) -> list[WriteRequest]:
        """`POST /quotes` for the buyer's contractor; referenceNumber carries the marker.

        The create body has no prices, number, currency or expiry: the vendor fills them
        and syncd's next push Puts whatever the local row holds beyond what it carried."""
        if entity != Entity.PROPOSALS:
            raise VendorUnsupported(self.capability(entity, Op.CREATE) or
                                    "Automa.Net line items are created inside their quote")
        company = row.get("company") or {}
        contact = row.get("contact") or {}
        company_raw = company.get("raw") or {}
        contractor = company_raw.get("contractor_uuid") or row.get("company_contractor_uuid")
        if not contractor:
            raise VendorUnsupported(
                "Automa.Net creates quotes for a contractor: the proposal's company has no "
                "Automa contractor_uuid (pull the company from Automa.Net first)")
        buyer: dict[str, Any] = {"contractorUuid": contractor}
        person = row.get("contact_remote_id") or contact.get("remote_id")
        if person:
            buyer["contractorContactPersonUuid"] = person
        address = company_raw.get("billing_address")
        if isinstance(address, dict):
            buyer["company"] = {"address": _camel_address(address)}
        body: dict[str, Any] = {"referenceNumber": marker, "buyer": buyer,
                                "items": [_create_item(c) for c in _live(children)]}
        if row.get("title") is not None:
            body["note"] = row["title"]
        fields = tuple(f for f in ("title", "company_id", "contact_id") if row.get(f) is not None)
        fields += ("line_items",) if body["items"] else ()
        return [WriteRequest("POST", self._path("quote_create", "/quotes"), "create",
                             Entity.PROPOSALS, json=body, fields=fields)]

    def created_id(self, entity: Entity, body: Any) -> str:
        data = body.get("data") if isinstance(body, dict) else None
        uuid = data.get("uuid") if isinstance(data, dict) else None
        if not uuid:
            raise VendorUnsupported("no quote uuid in the Automa.Net create response")
        return str(uuid)

    # ---- update / status -------------------------------------------------------------------
    def plan_update(
        self, entity: Entity, remote_id: str, changes: dict[str, Any], row: dict[str, Any],
        raw: dict[str, Any], children: list[dict[str, Any]],
    ) -> list[WriteRequest]:
        """A full Put (never partial) when anything but the status changed, then send/decline."""
        if entity != Entity.PROPOSALS:
            if entity == Entity.LINE_ITEMS:
                raise VendorUnsupported("Automa.Net line items change only through Put Quote "
                                        "on their proposal")
            raise VendorUnsupported(self.capability(entity, Op.UPDATE) or "unsupported")
        # "line_items" (the engine's parent rewrite) means: the items changed
        unknown = sorted(set(changes) - self.writable_fields[Entity.PROPOSALS] - {"line_items"})
        if unknown:
            raise VendorUnsupported(f"Automa.Net does not take changes to proposal field(s) "
                                    f"{', '.join(unknown)}")
        word = (raw.get("status") or {}).get("name") or row.get("vendor_status")
        requests: list[WriteRequest] = []
        content = {k: v for k, v in changes.items() if k != "status"}
        if content or not changes:
            if word != "draft":
                raise VendorRefused(f"Automa.Net accepts Put Quote only while a quote is a "
                                    f"draft; quote {remote_id} is {word!r}", status=400)
            if not raw.get("buyer") or not raw.get("seller"):
                raise VendorRefused(f"Put Quote replaces the whole quote and quote "
                                    f"{remote_id} has not been fetched from Automa.Net yet "
                                    f"(pull first)", status=409)
            fields = {k: v for k, v in content.items() if k != "line_items"}
            _check_put_fields(fields)
            requests.append(WriteRequest(
                "PUT", self._path("quote_put", "/quotes/{id}", id=remote_id), "update",
                Entity.PROPOSALS, json=self.put_body(raw, fields, children),
                fields=tuple(content)))
        if "status" in changes:
            requests.append(self._plan_status(remote_id, changes["status"], word))
        return requests

    def _plan_status(self, remote_id: str, status: Any, word: str | None) -> WriteRequest:
        action = self.status_out.get(ProposalStatus(status))
        if action is None:
            raise VendorUnsupported(f"Automa.Net cannot set a quote to {status!r} (only "
                                    f"sent via Send Quote and rejected via Decline Quote)")
        if action == "send" and word not in (None, "draft"):
            raise VendorRefused(f"Automa.Net sends only draft quotes; quote {remote_id} is "
                                f"{word!r}", status=400)
        path = self._path(f"quote_{action}", "/quotes/{id}/" + action, id=remote_id)
        body = {"reason": DECLINE_REASON} if action == "decline" else None
        return WriteRequest("POST", path, "send" if action == "send" else "status",
                            Entity.PROPOSALS, json=body, fields=("status",))

    def put_body(self, raw: dict[str, Any], changes: Mapping[str, Any],
                 children: list[dict[str, Any]]) -> dict[str, Any]:
        """The complete Put Quote body: the last fetched quote + changes + current items."""
        buyer = raw.get("buyer") or {}
        company = buyer.get("company") or {}
        seller = raw.get("seller") or {}
        items = [self._put_item(raw, c) for c in sorted(_live(children),
                                                        key=lambda c: c.get("position") or 0)]
        if not items:
            raise VendorRefused("Automa.Net quotes need at least one item", status=400)
        expires = changes["expires_at"] if "expires_at" in changes else raw.get("expires_at")
        return {
            "number": changes.get("number", raw.get("number")),
            "note": changes.get("title", raw.get("note")),
            "currency": changes.get("currency", raw.get("currency")),
            "buyer": {
                "type": buyer.get("type"),
                "user": _pick(buyer.get("user"), _USER),
                "company": {
                    **_pick(company, ("uuid", "contractor_uuid", "name", "number", "status",
                                      "eu_vat")),
                    "shipping_address": _pick(company.get("shipping_address"), _ADDRESS),
                    "billing_address": _pick(company.get("billing_address"), _ADDRESS),
                },
            },
            "seller": {"user": _pick(seller.get("user"), _USER),
                       "company": _pick(seller.get("company"), ("uuid",))},
            "additional_costs": [_pick(c, ("name", "nett_price", "tax_rate"))
                                 for c in raw.get("additional_costs") or []],
            "items": items,
            "payment_term": _pick(raw.get("payment_term"), ("uuid", "type")),
            "expires_at": _put_date(expires),
        }

    @staticmethod
    def _put_item(raw: dict[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
        known = {i.get("uuid"): i for i in raw.get("items") or []}
        source = known.get(child.get("remote_id")) or child.get("raw") or {}
        item = _pick(source, _ITEM)
        offer = _pick(source.get("offer"), _OFFER)
        if child.get("sku") is not None:
            offer["mpn"] = child["sku"]
        if "description" in child:
            offer["description"] = child["description"]
        if not source:  # a line item added locally
            brand = _brand_of(child)
            if brand:
                offer["brand"] = {"name": brand}
            item["discount"] = {"type": "none"}
        item["offer"] = offer
        if child.get("quantity") is not None:
            item["quantity"] = _number(child["quantity"])
        if child.get("unit_price") is not None:
            item["unit_nett_price"] = _money(child["unit_price"])
        if child.get("tax_rate") is not None:
            item["tax_rate"] = _money(child["tax_rate"])
        return item

    # ---- lookups ---------------------------------------------------------------------------
    def find_by_marker(self, client: VendorClient, entity: Entity, marker: str) -> str | None:
        """Scan the newest call-log entries (≤ 2 requests) for a quote whose deal reference
        is the marker. Automa.Net has no quote list or search, so this only finds quotes
        whose creation was logged (a QUOTE_* subscription exists)."""
        if entity != Entity.PROPOSALS:
            return None
        path = self.account.path("webhook_calls", "/webhooks/calls")
        for page in (1, 2):
            body = client.get_json(path, params={"page": page, "perPage": PAGE_SIZE,
                                                 "order": "desc", "orderBy": "createdAt"},
                                   endpoint="find")
            data = body.get("data") if isinstance(body, dict) else None
            entries = (data or {}).get("items") or []
            for entry in entries:
                obj = entry.get("eventObject") or _request_body(entry).get("object") or {}
                if isinstance(obj, dict) and marker in (obj.get("reference_number"),
                                                        obj.get("referenceNumber")):
                    return entry_object_uuid(entry)
            if not data or int(data.get("currentPage") or page) >= int(data.get("lastPage") or 0):
                break
        return None

    def fetch_one(self, client: VendorClient, entity: Entity, remote_id: str) -> Bundle | None:
        """`GET /quotes/{uuid}`; None when Automa answers 404/410."""
        if entity != Entity.PROPOSALS:
            raise VendorUnsupported(f"Automa.Net cannot fetch one {entity}")
        path = self._path("quote", "/quotes/{id}", id=remote_id)
        try:
            response = client.request("GET", path, endpoint="quote")
        except VendorError as exc:
            if exc.status in (404, 410):
                return None
            raise
        if response.status_code in (404, 410):
            return None
        raw = (response.json() or {}).get("data")
        try:
            return map_quote(self, Quote.model_validate(raw), raw)
        except (ValidationError, ValueError) as exc:
            raise BadRecord(f"automa quote {remote_id}: {exc}", raw) from exc

    # ---- webhooks --------------------------------------------------------------------------
    def authenticate_webhook(
        self, headers: Mapping[str, str], body: bytes, path_secret: str | None, secret: str
    ) -> bool:
        """Automa sends back, as the Authorization header, the value syncd registered."""
        given = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        return bool(secret) and given is not None and hmac.compare_digest(
            given.encode(), secret.encode())

    def webhook_hints(self, body: Any) -> list[WebhookHint]:
        """QUOTE_* events name the quote; ORDER_RECEIVED names it in `reference`."""
        if not isinstance(body, dict):
            return []
        event = str(body.get("eventType") or "")
        quote = body.get("objectUuid")
        if event == "ORDER_RECEIVED":
            ref = (body.get("object") or {}).get("reference") or {}
            quote = ref.get("uuid") if ref.get("type") == "quote" else None
        elif not event.startswith("QUOTE_"):
            return []
        if not quote:
            return []
        stamp = body.get("timestamp")
        when = parse_datetime(stamp) if isinstance(stamp, int | float) else None
        return [WebhookHint(
            entity=Entity.PROPOSALS, remote_id=str(parse_id(quote)), event=event,
            event_id=f"{body.get('webhookUuid')}:{body.get('objectUuid')}:{event}:{stamp}",
            occurred_at=when.timestamp() if when else None)]

    def webhook_subscriptions(self, url: str, secret: str) -> list[WriteRequest]:
        """One subscription per QUOTE_* event (Automa takes one event type per webhook)."""
        if not secret or len(secret) > 128:
            raise VendorUnsupported("Automa.Net needs a webhook secret of 1..128 characters")
        path = self.account.path("webhooks", "/webhooks")
        return [WriteRequest("POST", path, "create", Entity.PROPOSALS,
                             json={"eventType": event, "url": url, "authorization": secret},
                             note=f"webhook {event}")
                for event in QUOTE_EVENTS]

    def existing_webhooks(self, client: VendorClient) -> list[Subscription]:
        """`GET /webhooks`: pages of `{uuid, eventType, isEnabled, createdAt, updatedAt}` —
        no URL and no secret, so syncd recognises its own subscriptions by the uuid it
        remembered when it made them (`key` is None)."""
        found: list[Subscription] = []
        path = self.account.path("webhooks", "/webhooks")
        for page in range(1, 1000):
            data = (client.get_json(path, params={"page": page, "perPage": PAGE_SIZE})
                    or {}).get("data") or {}
            items = [i for i in data.get("items") or [] if isinstance(i, dict) and i.get("uuid")]
            found += [Subscription(str(i["uuid"]), None, bool(i.get("isEnabled", True)))
                      for i in items]
            if not items or page >= int(data.get("lastPage") or 1):
                break
        return found

    def webhook_key(self, request: WriteRequest) -> str:
        return f"{request.json['eventType']} {request.json['url']}"

    def webhook_created_id(self, body: Any) -> str | None:
        """`{"data": {"uuid": …}}`."""
        data = body.get("data") if isinstance(body, dict) else None
        return str(data["uuid"]) if isinstance(data, dict) and data.get("uuid") else None


def _check_put_fields(changes: Mapping[str, Any]) -> None:
    """Refuse locally what Put Quote would answer with a 400 (no request spent)."""
    number, note = changes.get("number", ""), changes.get("title")
    if "number" in changes and (not isinstance(number, str) or not 0 < len(number) <= 32):
        raise VendorRefused("Automa.Net quote numbers are 1..32 characters", status=400)
    if note is not None and len(str(note)) > 1024:
        raise VendorRefused("Automa.Net quote notes (titles) are at most 1024 characters",
                            status=400)
    if "currency" in changes and changes["currency"] not in ("PLN", "EUR", "USD", "GBP"):
        raise VendorRefused("Automa.Net quotes are in PLN, EUR, USD or GBP", status=400)


def _live(children: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in children if not c.get("deleted_at")]


def _brand_of(child: Mapping[str, Any]) -> str | None:
    """The brand part of a "brand mpn" name."""
    name, sku = str(child.get("name") or "").strip(), str(child.get("sku") or "")
    if sku and name.endswith(sku):
        name = name[: -len(sku)].strip()
    return name or None


def _create_item(child: Mapping[str, Any]) -> dict[str, Any]:
    raw_offer = (child.get("raw") or {}).get("offer") or {}
    offer: dict[str, Any] = {"mpn": child.get("sku") or raw_offer.get("mpn")}
    brand = (raw_offer.get("brand") or {}).get("name") or _brand_of(child)
    if brand:
        offer["brandName"] = brand
    condition = (raw_offer.get("condition") or {}).get("name")
    if condition:
        offer["conditionName"] = condition
    return {"quantity": _number(child.get("quantity") or 1), "offer": offer}


def _camel_address(address: Mapping[str, Any]) -> dict[str, Any]:
    words = {"post_code": "postCode", "company_name": "companyName", "first_name": "firstName",
             "last_name": "lastName"}
    return {words.get(k, k): v for k, v in address.items() if k in _ADDRESS}

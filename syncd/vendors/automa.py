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
fingerprint the entry's createdAt/eventType/uuid, so a quote is looked at only when a newer
log entry about it appears.

Snapshot first: an entry whose `eventObject` is the quote (complete: it maps without what
would quarantine it) is written at once when its `updated_at` is newer than the mirror's,
and marked unverified (`DetailSpec.snapshot`, `call_snapshot`). This is data read from
Automa's API with syncd's key, unlike webhook deliveries, which stay hints. A backfill then
costs call-log pages + RFQ pages; the quote is fetched by uuid (`GET /quotes/{uuid}`, the
DetailSpec) at once only for an entry without a usable `eventObject`, otherwise later with
spare budget (`syncd verify`, the daemon's verification job).

The log never proves that a quote is gone (`deletes_missing=False`); a 404 on the quote
fetch does. The seed's log entry carries no top-level `eventType`/`objectUuid`: they are
read from `result.requestBody` (the payload Automa sent) with `eventObjectUuid` as the
object uuid. The stream skips entries that are not QUOTE_* ones (`not_a_quote_entry`):
orders, payments and RFQ events have no quote to fetch (RFQs have streams of their own);
of a page's entries about one quote only the newest counts (older ones are superseded).

Caveat: only calls to *subscribed* event types are logged, and a seller's own edits fire no
event, so `syncd webhooks register` (one subscription per QUOTE_* event) is a prerequisite,
and a quote edited in Automa's UI without a buyer event reaches the mirror only when the
next QUOTE_* event about it arrives.

Mapping (quotes are snake_case): quote -> proposal (`note` is the title, `number` the
number, `totals.grand_price.final` the totals), `buyer.company` -> company, `buyer.user`
-> contact, `items[]` -> line items (`offer.mpn` -> sku, brand + mpn -> name). Money and
tax are decimal strings. RFQs (camelCase, `GET /rfqs/received|sent`) have no canonical
home: the buyer company of a received RFQ carries no uuid. They are kept as extras ("rfqs").

Drift (strict about identity and money, tolerant about vocabulary; see syncd/drift.py):
only a quote without a usable uuid, or one whose structure is unusable, is quarantined
(`items`, `additional_costs` or `tracked_openings` not a list; `buyer`, an item's `offer`,
`totals` or `status` neither an object nor null; a bare status word is read as its name).
Everything else degrades one value and is noted: a status word matches case-, space-,
hyphen- and underscore-insensitively (the account's `status_map` first); a word still
unknown keeps the quote with `status` NULL and the word in `vendor_status`. Money is a
decimal string: a JSON number is coerced (exactly, noted), an unparseable amount is NULL
(noted), never 0. A currency outside PLN/EUR/USD/GBP is noted as unmapped and kept when
it looks like an ISO code (three letters, upper-cased), else NULL. A quote item without a
usable uuid keeps the quote: it gets the id `{quote uuid}:items:{position}` (noted). A
quote without an `items` list at all keeps its proposal and leaves the mirrored line items
as they are. Automa.Net quote items carry no element type: every `items[]` entry is a
priced line. `additional_costs` (shipping, packaging: part of the totals) are not line
items unless the account lists "additional_costs" in `line_item_types`; they are then
line items `{quote uuid}:additional_costs:{n}` (quantity 1) and a push writes them back as
the quote's additional costs. Lists nobody documented stay in raw only (counted as
unknown fields): Put Quote could not write such line items back.

Deletions: a 404 on the quote fetch marks the proposal (and its line items) deleted.
Companies and contacts exist only inside quotes and Automa has no list of them, so syncd
never marks them deleted: a deleted quote does not prove its buyer is gone.

Writes: Put Quote is a full replacement (omitted items are deleted, omitted note is
cleared) and is accepted only while the quote is a draft, so every update is built from
the last fetched quote (`raw`) + the changes + the current line items; amounts and
quantities go out in the documented types (decimal strings, numbers) whatever type the
last answer used. Status: `sent` -> `POST /quotes/{uuid}/send`, `rejected` ->
`POST /quotes/{uuid}/decline`. Create: `POST /quotes` for the buyer's *contractor*
(`contractor_uuid` from the company's raw JSON, so the company must have been pulled from
Automa) with `referenceNumber` = syncd's marker; a lost response is found again in the
newest call-log entries (<= 2 requests).

Status words (`status.name`): only "draft" is shown in the seed; the help centre's flow
(create, send, accept, decline, expire) gives the others. A sent quote with tracked
openings is canonical `viewed`.

Auth: `Authorization: Bearer <api_key>`. 30 requests/min; 429 carries Retry-After.
Paths (`[accounts.paths]` keys): `webhook_calls`, `webhook_calls.quote` (the detail),
`rfqs_received`, `rfqs_sent`, `quote`, `quote_create`, `quote_put`, `quote_send`,
`quote_decline`, `webhooks`.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import httpx
from pydantic import BeforeValidator, TypeAdapter, ValidationError, model_validator

from syncd import drift
from syncd.canonical import Bundle, Entity, ProposalStatus
from syncd.drift import Date, Key, MoneyText, Number, Record, RefId, Text, Word
from syncd.errors import BadRecord, VendorRefused, VendorUnsupported
from syncd.http.auth import BearerAuth, TokenStore
from syncd.http.paginators import LastPagePaginator
from syncd.parsing import parse_datetime, parse_decimal
from syncd.vendors.base import (
    Connector,
    DetailSpec,
    Op,
    Quirk,
    StreamSpec,
    Subscription,
    VendorClient,
    WebhookHint,
    WriteRequest,
    default_fingerprint,
)

PAGE_SIZE = 100  # assumed maximum perPage (the seed gives only the default, 20)
QUOTE_EVENTS = ("QUOTE_ACCEPTED", "QUOTE_RECEIVED", "QUOTE_DECLINED", "QUOTE_EXPIRED",
                "QUOTE_OPENING_TRACKED")
CURRENCIES = ("PLN", "EUR", "USD", "GBP")  # Put Quote's enum
DECLINE_REASON = "Declined in syncd"
NO_PARTIES = "Automa.Net {what} belong to the buyer's platform account; the API cannot edit them"
# the quote's lists and whether their elements are line items (`Connector.is_priced_line`)
PRICED_GROUPS = frozenset({"items"})
UNPRICED_GROUPS = frozenset({"additional_costs", "tracked_openings"})
COSTS = "additional_costs"
_ISO_CURRENCY = re.compile(r"[A-Z]{3}")
_CURRENCY_WORDS = drift.word_table({c: c for c in CURRENCIES})
_KEY: TypeAdapter[str] = TypeAdapter(Key)


# ---- record models ---------------------------------------------------------------------------
# What syncd needs from a quote, not all Automa may say: documented keys the mapping does
# not read (or reads from raw, as push does) are `drift_known`, so only keys nobody
# documented are counted as unknown fields. Nested objects are objects or null; a scalar
# where one belongs is an unusable structure (quarantine). Item amounts carry only the
# net amount the mapping reads (models stay lean: the pull validates every item).
def _status_object(value: Any) -> Any:
    """A bare status word ("sent", or a code) means the same as `{"name": "sent"}`. The
    word is made text here (a new object has no JSON path for a coercion note); a code
    no table lists is noted as an unmapped word by the mapping.
    """
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"name": str(value)}
    return value


class Country(Record):
    """A country as Automa.Net nests it in an address: its code is what syncd keeps."""
    drift_known = frozenset({"id"})
    code: Text = None


class Phone(Record):
    """A phone number as Automa.Net splits it: dialling code and number."""
    code: Text = None
    number: Text = None


class Address(Record):
    """A postal address of an Automa.Net company (the person's name on it is not syncd's)."""
    drift_known = frozenset({"first_name", "last_name"})
    city: Text = None
    country: Country | None = None
    post_code: Text = None
    line1: Text = None
    line2: Text = None
    state: Text = None
    company_name: Text = None
    email: Text = None
    phone: Phone | None = None


class EuVat(Record):
    """An EU VAT number as Automa.Net splits it: country code and number."""
    code: Text = None
    number: Text = None


class QuoteCompany(Record):
    """The buyer company; its uuid identifies the company row (none: no company row)."""

    drift_known = frozenset({"contractor_uuid", "status", "shipping_address"})  # push reads raw
    uuid: RefId = None
    name: Text = None
    number: Text = None
    eu_vat: EuVat | None = None
    billing_address: Address | None = None


class QuoteUser(Record):
    """The person a quote is addressed to, as the quote embeds them."""
    uuid: RefId = None
    first_name: Text = None
    last_name: Text = None
    email: Text = None
    phone: Text = None
    phone_code: Text = None


class Party(Record):
    """Who a quote is for: the company and the person."""
    drift_known = frozenset({"type"})  # "portal": sent back as it came (Put Quote)
    company: QuoteCompany | None = None
    user: QuoteUser | None = None


class QuoteStatus(Record):
    """A quote's status word and when it was set."""
    drift_known = frozenset({"set_by", "reason"})
    name: Word = None
    set_at: Date = None


class NetAmount(Record):
    """A net amount, the only one of an item price's amounts that syncd keeps."""
    drift_known = frozenset({"gross_amount", "tax_amount"})
    nett_amount: MoneyText = None


class ItemPrice(Record):
    """An item's price before and after its discount."""
    regular: NetAmount | None = None
    final: NetAmount | None = None


class Amounts(Record):
    """A total's net, gross and tax amounts."""
    nett_amount: MoneyText = None
    gross_amount: MoneyText = None
    tax_amount: MoneyText = None


class GrandPrice(Record):
    """The quote's grand total after discounts."""
    drift_known = frozenset({"regular"})
    final: Amounts | None = None


class Totals(Record):
    """A quote's totals, of which syncd keeps the grand total."""
    drift_known = frozenset({"additional_costs_price", "items_price"})
    grand_price: GrandPrice | None = None


class Offer(Record):
    """An item's offer. `brand` (`{id, uuid, name, original_name}`) is read from raw by
    the mapping: one model less per line item, and its other keys are data nobody uses.
    """

    drift_known = frozenset({"uuid", "condition", "lead_time", "warranty", "price", "weight",
                             "quantity", "custom1", "custom2", "sku", "company_uuid", "brand"})
    mpn: Text = None
    description: Text = None


class QuoteItem(Record):
    """One quote item. Its uuid is the line item's remote id (none: a derived one)."""

    drift_known = frozenset({"required_delivery", "delivery_time", "ships_in", "discount",
                             "note"})  # the discount is read as regular - final net amount
    uuid: RefId = None
    offer: Offer | None = None
    quantity: Number = None
    unit_nett_price: MoneyText = None
    tax_rate: MoneyText = None
    total_price: ItemPrice | None = None


class AdditionalCost(Record):
    """A quote's additional cost (shipping, for instance), kept as a line item."""
    drift_known = frozenset({"price"})
    name: Text = None
    nett_price: MoneyText = None
    tax_rate: MoneyText = None


class Quote(Record):
    """One quote (`GET /quotes/{uuid}` -> `{"data": {...}}`, webhook `object`)."""

    drift_known = frozenset({"seller", "payment_term", "created_by", "reference_number"})
    uuid: Key
    number: Text = None
    note: Text = None
    currency: Word = None
    buyer: Party | None = None
    additional_costs: list[AdditionalCost] | None = None
    status: Annotated[QuoteStatus | None, BeforeValidator(_status_object)] = None
    items: list[QuoteItem] | None = None
    tracked_openings: list[Any] | None = None
    totals: Totals | None = None
    created_at: Date = None
    updated_at: Date = None
    expires_at: Date = None


class CallLogEntry(Record):
    """A call-log entry: the stream reads its object and event from raw (`id_of`,
    `fingerprint`, `skip`), so the model only declares what Automa documents.
    """

    drift_known = frozenset({"webhookUuid", "status", "eventObjectUuid", "eventObject",
                             "result", "createdAt", "updatedAt", "eventType", "objectUuid"})
    uuid: RefId = None


class CallRecord(Record):
    """A call-log entry merged with the quote fetched for it (None for other events)."""

    call: CallLogEntry | None = None
    quote: Quote | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_entry(cls, data: Any) -> Any:
        """An entry whose detail was not fetched arrives unmerged."""
        if isinstance(data, dict) and "call" not in data and "quote" not in data:
            return {"call": data, "quote": None}
        return data


class Rfq(Record):
    """A received or sent request for quotation (camelCase, unlike quotes): kept as an
    extra, so only its identity and dates are read.
    """

    drift_known = frozenset({"group", "note", "seller", "source", "items", "buyer"})
    uuid: Key
    number: Text = None
    placedAt: Date = None
    declinedAt: Date = None


# ---- call-log helpers ------------------------------------------------------------------------
def _request_body(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    result = entry.get("result")
    body = result.get("requestBody") if isinstance(result, Mapping) else None
    return body if isinstance(body, Mapping) else {}


def _usable_id(value: Any) -> str | None:
    """An id by the record models' rule (`drift.Key`): text or an integer, else None."""
    try:
        return _KEY.validate_python(value)
    except ValidationError:
        return None


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
        found = _usable_id(value)
        if found is not None:
            return found
    raise KeyError("call-log entry names no object uuid")


def is_quote_entry(entry: Mapping[str, Any]) -> bool:
    """A QUOTE_* event, in whatever case or separators the log spells it."""
    return drift.normalize_word(entry_event_type(entry) or "").startswith("quote")


def entry_fingerprint(entry: Mapping[str, Any]) -> str:
    """Changes only with a newer entry about the same object (never with re-reading)."""
    return default_fingerprint([entry.get("createdAt"), entry_event_type(entry), entry.get("uuid")])


def call_snapshot(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    """The quote a call-log entry carries (`eventObject`, as Automa sent it), when it is
    one: an object naming the entry's quote (`DetailSpec.snapshot`). Missing, empty or
    about another object: None (the quote is fetched by uuid).
    """
    obj = entry.get("eventObject")
    if not isinstance(obj, dict) or not obj:
        return None
    try:
        return obj if _usable_id(obj.get("uuid")) == entry_object_uuid(entry) else None
    except KeyError:
        return None


def _merge_call(entry: dict[str, Any], quote: Any) -> dict[str, Any]:
    return {"call": entry, "quote": quote}


def _stored_quote(stored: Any) -> dict[str, Any]:
    """`syncd remap`: a proposal row stores the fetched quote, not the call-log entry
    merged with it; the quote alone maps the same rows (and notes the same paths).
    """
    return {"call": None, "quote": stored}


def rfq_uuid(rec: Mapping[str, Any]) -> str:
    """An RFQ's id by the record models' rule; anything else is unidentifiable."""
    return _KEY.validate_python(rec["uuid"])


def not_a_quote_entry(entry: Any) -> bool:
    """Call-log entries the pull passes over (`StreamSpec.skip`): entries about orders,
    payments and RFQs have no quote to fetch (the RFQ lists are streams of their own), and
    an entry naming no object has nothing to fetch either. Of several entries about one
    quote on a page only the newest counts (the engine's rule for a log naming a record
    twice): one fetch of the current quote answers them all, and a quote logged twice on
    the re-read last page is not fetched again on every run. The position (page numbers)
    does not change.
    """
    if not isinstance(entry, dict) or not is_quote_entry(entry):
        return True
    try:
        entry_object_uuid(entry)
    except KeyError:
        return True
    return False


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


def _item_row(quote_uuid: str, index: int, item: QuoteItem, raw: dict[str, Any],
              prefix: str) -> dict[str, Any]:
    offer = item.offer or Offer()
    brand = _brand_name(raw.get("offer"), prefix)
    final = item.total_price.final if item.total_price else None
    regular = item.total_price.regular if item.total_price else None
    remote_id = item.uuid
    if remote_id is None:
        remote_id = f"{quote_uuid}:items:{index + 1}"
        given = raw.get("uuid")
        if given is None or given == "" or given is False:  # other values: noted by RefId
            drift.note(drift.DriftKind.UNPARSEABLE_VALUE, f"{prefix}items[].uuid", given)
    row: dict[str, Any] = {
        "remote_id": remote_id, "proposal_remote_id": quote_uuid, "position": index + 1,
        "sku": offer.mpn, "name": " ".join(p for p in (brand, offer.mpn) if p) or None,
        "description": offer.description, "quantity": parse_decimal(item.quantity),
        "unit_price": item.unit_nett_price, "tax_rate": item.tax_rate, "raw": raw,
    }
    if final is not None:
        row["total_net"] = final.nett_amount
        if regular is not None and regular.nett_amount is not None and (
                final.nett_amount is not None):
            # the discount as money, whatever the vendor's discount type was
            row["discount"] = regular.nett_amount - final.nett_amount
    return row


def _brand_name(offer: Any, prefix: str) -> str | None:
    """`offer.brand.name` from the raw item (a number is text; anything else is noted)."""
    brand = offer.get("brand") if isinstance(offer, dict) else None
    name = brand.get("name") if isinstance(brand, dict) else None
    if name is None or type(name) is str:
        return name
    path = f"{prefix}items[].offer.brand.name"
    if isinstance(name, int | float) and not isinstance(name, bool):
        drift.note(drift.DriftKind.COERCED_VALUE, path, name)
        return str(name)
    drift.note(drift.DriftKind.UNPARSEABLE_VALUE, path, name)
    return None


def _cost_row(quote_uuid: str, number: int, position: int, cost: AdditionalCost,
              raw: dict[str, Any]) -> dict[str, Any]:
    """An additional cost as a line item (accounts listing it in `line_item_types`)."""
    return {"remote_id": f"{quote_uuid}:{COSTS}:{number}", "proposal_remote_id": quote_uuid,
            "position": position, "name": cost.name, "quantity": Decimal(1),
            "unit_price": cost.nett_price, "tax_rate": cost.tax_rate,
            "total_net": cost.nett_price, "raw": raw}


def _currency(word: str | None, path: str) -> str | None:
    """Put Quote's currencies in any case; another three-letter code is kept (upper-cased)
    and noted, anything else is NULL and noted.
    """
    if word is None or word == "":
        return None
    found = _CURRENCY_WORDS.get(drift.normalize_word(word))
    if found is not None:
        return found
    drift.note(drift.DriftKind.UNMAPPED_WORD, path, word)
    code = word.strip().upper()
    return code if _ISO_CURRENCY.fullmatch(code) else None


def map_quote(connector: Connector, quote: Quote, raw: dict[str, Any],
              prefix: str = "") -> Bundle:
    """One quote -> its proposal, buyer company, buyer user and complete line items.
    `prefix` is the quote's path in the validated record (drift notes name full paths).
    """
    bundle = Bundle()
    word = quote.status.name if quote.status else None
    status = connector.map_status(word, f"{prefix}status.name")
    if status == ProposalStatus.SENT and quote.tracked_openings:
        status = ProposalStatus.VIEWED
    buyer = quote.buyer
    company = buyer.company if buyer else None
    user = buyer.user if buyer else None
    raw_buyer = raw.get("buyer") or {}
    proposal: dict[str, Any] = {
        "remote_id": quote.uuid, "number": quote.number, "title": quote.note,
        "status": status, "vendor_status": word,
        "currency": _currency(quote.currency, f"{prefix}currency"),
        "created_at": quote.created_at, "updated_at": quote.updated_at,
        "expires_at": quote.expires_at, "raw": raw,
    }
    final = quote.totals.grand_price.final if quote.totals and quote.totals.grand_price else None
    if final is not None:
        proposal.update(total_net=final.nett_amount, total_tax=final.tax_amount,
                        total_gross=final.gross_amount)
    set_at = quote.status.set_at if quote.status else None
    if status in (ProposalStatus.SENT, ProposalStatus.VIEWED) and set_at:
        proposal["sent_at"] = set_at
    if status in (ProposalStatus.ACCEPTED, ProposalStatus.REJECTED) and set_at:
        proposal["decided_at"] = set_at
    company_uuid = company.uuid if company else None
    if company is not None and company_uuid is None:
        drift.note(drift.DriftKind.UNPARSEABLE_VALUE, f"{prefix}buyer.company.uuid",
                   (raw_buyer.get("company") or {}).get("uuid"))
    if company is not None and company_uuid is not None:
        proposal["company_id"] = company_uuid
        bundle.companies.append(_company_row(company, raw_buyer.get("company") or {}))
    if user is not None and user.uuid:
        proposal["contact_id"] = user.uuid
        bundle.contacts.append(_contact_row(user, company_uuid, raw_buyer.get("user") or {}))
    bundle.proposals.append(proposal)
    if quote.items is None:
        # no item list at all: the quote's line items are unknown, not gone
        drift.note(drift.DriftKind.UNPARSEABLE_VALUE, f"{prefix}items", raw.get("items"))
        return bundle
    raw_items = raw["items"]
    for index, item in enumerate(quote.items):
        bundle.line_items.append(_item_row(quote.uuid, index, item, raw_items[index], prefix))
    if quote.additional_costs and connector.is_priced_line(
            COSTS, PRICED_GROUPS, UNPRICED_GROUPS, False, f"{prefix}{COSTS}"):
        position = len(quote.items)
        for number, (cost, raw_cost) in enumerate(
                zip(quote.additional_costs, raw[COSTS], strict=True), start=1):
            bundle.line_items.append(
                _cost_row(quote.uuid, number, position + number, cost, raw_cost))
    bundle.complete_line_items.add(quote.uuid)
    return bundle


def map_call(connector: Connector, record: CallRecord, raw: dict[str, Any]) -> Bundle:
    """A quote entry maps its freshly fetched quote; any other entry is kept as an extra
    (the stream fetches quotes for QUOTE_* entries only).
    """
    if record.quote is not None:
        return map_quote(connector, record.quote, raw["quote"], "quote.")
    entry = raw.get("call", raw)
    uuid = record.call.uuid if record.call else None
    return Bundle(extras=[("webhook_calls", uuid, entry)] if uuid else [])


def map_rfq(connector: Connector, rfq: Rfq, raw: dict[str, Any]) -> Bundle:
    """An RFQ kept as it came: syncd has no canonical entity for requests for quotes."""
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


def _money_text(value: Any) -> str:
    """A decimal string as Put Quote takes it: text as it came, a number exactly."""
    if isinstance(value, str):
        return value
    amount = drift.exact_money(value)
    if amount is None:
        raise ValueError(f"not an amount: {value!r}")
    return f"{amount:.2f}" if amount == amount.quantize(Decimal("0.01")) else str(amount)


def _put_currency(value: Any) -> Any:
    """A currency of Put Quote's enum in the spelling it takes ("pln" -> "PLN")."""
    found = _CURRENCY_WORDS.get(drift.normalize_word(value)) if isinstance(value, str) else None
    return found or value


def _put_cost(child: Mapping[str, Any]) -> dict[str, Any]:
    """An additional cost from its line item: the net price of the whole cost."""
    cost = _pick(child.get("raw"), ("name", "nett_price", "tax_rate"))
    if child.get("name") is not None:
        cost["name"] = child["name"]
    if child.get("unit_price") is not None:
        quantity = Decimal(str(child.get("quantity") or 1))
        cost["nett_price"] = _money(Decimal(str(child["unit_price"])) * quantity)
    if child.get("tax_rate") is not None:
        cost["tax_rate"] = _money(child["tax_rate"])
    return cost


def _status_name(raw: Mapping[str, Any]) -> str | None:
    """The quote's status word from raw (`{"name": …}`, or a bare word)."""
    status = raw.get("status")
    word = status.get("name") if isinstance(status, Mapping) else status
    return word if isinstance(word, str) and word else None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _pick(source: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(source, Mapping):
        return {}
    return {k: source[k] for k in keys if k in source}


_ADDRESS = ("city", "country", "post_code", "line1", "line2", "state", "company_name",
            "first_name", "last_name", "phone")
_USER = ("uuid", "first_name", "last_name", "phone", "phone_code")
_OFFER = ("uuid", "mpn", "lead_time", "warranty", "description", "condition", "brand", "price",
          "weight", "quantity", "custom1", "custom2", "sku", "company_uuid")
_ITEM = ("uuid", "offer", "required_delivery", "delivery_time", "ships_in", "quantity",
         "unit_nett_price", "tax_rate", "discount", "note")


class AutomaConnector(Connector):
    """Automa.Net: the webhook call log discovers quotes; Put Quote rewrites them whole."""

    vendor = "automa"
    display_name = "Automa.Net"
    reads_summary = (
        "quotes from the webhook call log's snapshots (verified by uuid with spare budget) "
        "and webhooks; RFQ lists")
    auth_summary = "`api_key` (Bearer)"
    # Put replaces the whole quote, items included: re-read it first, items go through it
    quirks = frozenset({Quirk.FULL_REPLACEMENT, Quirk.ITEMS_VIA_PARENT})
    streams = (
        StreamSpec(
            name="webhook_calls", path="/webhooks/calls",
            paginator=LastPagePaginator,
            model=CallRecord, map=map_call, entity=Entity.PROPOSALS, page_size=PAGE_SIZE,
            records_path=("data", "items"), params={"order": "asc", "orderBy": "createdAt"},
            id_of=entry_object_uuid, fingerprint=entry_fingerprint,
            detail=DetailSpec(path="/quotes/{id}", name="quote", records_path=("data",),
                              id_of=entry_object_uuid, merge=_merge_call,
                              snapshot=call_snapshot),
            deletes_missing=False, keep_cursor=True, remap_record=_stored_quote,
            skip=not_a_quote_entry,
        ),
        *(
            StreamSpec(
                name=f"rfqs_{kind}", path=f"/rfqs/{kind}",
                paginator=lambda size, state: LastPagePaginator(size, state),
                model=Rfq, map=map_rfq, entity="rfqs", page_size=PAGE_SIZE,
                records_path=("data", "items"), id_of=rfq_uuid,
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
        """Automa.Net takes the API key as a bearer token."""
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
    def create_requests(
        self, entity: Entity, row: dict[str, Any], children: list[dict[str, Any]], marker: str
    ) -> list[WriteRequest]:
        """`POST /quotes` for the buyer's contractor; referenceNumber carries the marker.

        The create body has no prices, number, currency or expiry: the vendor fills them
        and syncd's next push Puts whatever the local row holds beyond what it carried.
        Only quotes get here: the matrix and `Quirk.ITEMS_VIA_PARENT` refuse the rest.
        """
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
        """The new quote's uuid, which Automa.Net returns under `data`."""
        data = body.get("data") if isinstance(body, dict) else None
        uuid = data.get("uuid") if isinstance(data, dict) else None
        if not uuid:
            raise VendorUnsupported("no quote uuid in the Automa.Net create response")
        return str(uuid)

    # ---- update / status -------------------------------------------------------------------
    def update_requests(
        self, entity: Entity, remote_id: str, changes: dict[str, Any], row: dict[str, Any],
        raw: dict[str, Any], children: list[dict[str, Any]],
    ) -> list[WriteRequest]:
        """A full Put (never partial) when anything but the status changed, or when asked
        for none (the engine's rewrite for changed items), then send/decline. Only quotes
        and their writable fields get here (the declarations refuse the rest).
        """
        word = _status_name(raw) or row.get("vendor_status")
        requests: list[WriteRequest] = []
        content = {k: v for k, v in changes.items() if k != "status"}
        if content or not changes:
            if not self._is_draft(word):
                raise VendorRefused(f"Automa.Net accepts Put Quote only while a quote is a "
                                    f"draft; quote {remote_id} is {word!r}", status=400)
            if not _object(raw.get("buyer")) or not _object(raw.get("seller")):
                raise VendorRefused(f"Put Quote replaces the whole quote and quote "
                                    f"{remote_id} has not been fetched from Automa.Net yet "
                                    f"(pull first)", status=409)
            _check_put_fields(content)
            requests.append(WriteRequest(
                "PUT", self._path("quote_put", "/quotes/{id}", id=remote_id), "update",
                Entity.PROPOSALS, json=self.put_body(raw, content, children),
                fields=tuple(content)))
        if "status" in changes:
            requests.append(self._plan_status(remote_id, changes["status"], word))
        return requests

    def _plan_status(self, remote_id: str, status: Any, word: str | None) -> WriteRequest:
        action = self.status_out.get(ProposalStatus(status))
        if action is None:
            raise VendorUnsupported(f"Automa.Net cannot set a quote to {status!r} (only "
                                    f"sent via Send Quote and rejected via Decline Quote)")
        if action == "send" and word is not None and not self._is_draft(word):
            raise VendorRefused(f"Automa.Net sends only draft quotes; quote {remote_id} is "
                                f"{word!r}", status=400)
        path = self._path(f"quote_{action}", "/quotes/{id}/" + action, id=remote_id)
        body = {"reason": DECLINE_REASON} if action == "decline" else None
        return WriteRequest("POST", path, "send" if action == "send" else "status",
                            Entity.PROPOSALS, json=body, fields=("status",))

    def _is_draft(self, word: Any) -> bool:
        """Whether a status word is Automa's draft (any spelling, or the account's word)."""
        return self.map_status(word) == ProposalStatus.DRAFT

    def put_body(self, raw: dict[str, Any], changes: Mapping[str, Any],
                 children: list[dict[str, Any]]) -> dict[str, Any]:
        """The complete Put Quote body: the last fetched quote + changes + current items.

        Line items that are the quote's additional costs (accounts listing them in
        `line_item_types`) travel as `additional_costs`, every other one as an item.
        """
        buyer = _object(raw.get("buyer"))
        company = _object(buyer.get("company"))
        seller = _object(raw.get("seller"))
        live = sorted(_live(children), key=lambda c: c.get("position") or 0)
        cost_prefix = f"{raw.get('uuid')}:{COSTS}:"
        costs: list[dict[str, Any]] = []
        items: list[dict[str, Any]] = []
        for child in live:
            if str(child.get("remote_id") or "").startswith(cost_prefix):
                costs.append(child)
            else:
                items.append(self._put_item(raw, child))
        if not items:
            raise VendorRefused("Automa.Net quotes need at least one item", status=400)
        if costs or COSTS in {drift.normalize_word(t) for t in self.account.line_item_types}:
            additional = [_put_cost(c) for c in costs]
        else:
            additional = [_pick(c, ("name", "nett_price", "tax_rate"))
                          for c in _list(raw.get(COSTS))]
        expires = changes["expires_at"] if "expires_at" in changes else raw.get("expires_at")
        return {
            "number": changes.get("number", raw.get("number")),
            "note": changes.get("title", raw.get("note")),
            "currency": changes.get("currency", _put_currency(raw.get("currency"))),
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
            "additional_costs": additional,
            "items": items,
            "payment_term": _pick(raw.get("payment_term"), ("uuid", "type")),
            "expires_at": _put_date(expires),
        }

    @staticmethod
    def _put_item(raw: dict[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
        known = {i.get("uuid"): i for i in _list(raw.get("items"))}
        source = known.get(child.get("remote_id")) or _object(child.get("raw"))
        item = _pick(source, _ITEM)
        if "uuid" in item and _usable_id(item["uuid"]) is None:
            del item["uuid"]  # an item syncd gave a derived id: Automa holds it by position
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
        # the documented types, whatever type the last answer used ("3", 125.5)
        for key, convert in (("quantity", _number), ("unit_nett_price", _money_text),
                             ("tax_rate", _money_text)):
            if item.get(key) is not None:
                with contextlib.suppress(ValueError, ArithmeticError):  # sent as it came
                    item[key] = convert(item[key])
        if child.get("quantity") is not None:
            item["quantity"] = _number(child["quantity"])
        if child.get("unit_price") is not None:
            item["unit_nett_price"] = _money(child["unit_price"])
        if child.get("tax_rate") is not None:
            item["tax_rate"] = _money(child["tax_rate"])
        return item

    # ---- lookups ---------------------------------------------------------------------------
    def marker_of(self, entity: Entity, raw: Any) -> str | None:
        """A quote's `reference_number` (the create's `referenceNumber`) when it is ours."""
        if entity != Entity.PROPOSALS or not isinstance(raw, dict):
            return None
        value = raw.get("reference_number") or raw.get("referenceNumber")
        return value if isinstance(value, str) and value.startswith("syncd-") else None

    def find_by_marker(self, client: VendorClient, entity: Entity, marker: str) -> str | None:
        """Scan the newest call-log entries (≤ 2 requests) for a quote whose deal reference
        is the marker. Automa.Net has no quote list or search, so this only finds quotes
        whose creation was logged (a QUOTE_* subscription exists).
        """
        if entity != Entity.PROPOSALS:
            return None
        path = self.account.path("webhook_calls", "/webhooks/calls")
        pages = client.paginate(path, LastPagePaginator(PAGE_SIZE), records_path=("data", "items"),
                                params={"order": "desc", "orderBy": "createdAt"},
                                endpoint="find")
        for page in itertools.islice(pages, 2):
            for entry in page.records:
                if not isinstance(entry, dict):
                    continue
                obj = entry.get("eventObject") or _request_body(entry).get("object") or {}
                if isinstance(obj, dict) and marker in (obj.get("reference_number"),
                                                        obj.get("referenceNumber")):
                    with contextlib.suppress(KeyError):
                        return entry_object_uuid(entry)
        return None

    def fetch_one(self, client: VendorClient, entity: Entity, remote_id: str) -> Bundle | None:
        """`GET /quotes/{uuid}`; None when Automa answers 404/410. Validated and mapped as
        the pull does (the quote of a call-log record), so its drift notes name the same
        paths; only an unidentifiable or structurally unusable quote is a BadRecord.
        """
        if entity != Entity.PROPOSALS:
            raise VendorUnsupported(f"Automa.Net cannot fetch one {entity}")
        body = client.get_one(self._path("quote", "/quotes/{id}", id=remote_id),
                              endpoint="quote")
        if body is None:
            return None
        raw = body.get("data") if isinstance(body, dict) else None
        record = _stored_quote(raw)
        try:
            if not isinstance(raw, dict):
                raise ValueError("the answer holds no quote object")
            bundle = map_call(self, CallRecord.model_validate(record), record)
        except (ValidationError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadRecord(f"automa quote {remote_id}: {exc}", raw) from exc
        drift.unknown_fields(CallRecord, record)
        return bundle

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
        quote = _usable_id(body.get("objectUuid"))
        if drift.normalize_word(event) == "orderreceived":
            ref = _object(_object(body.get("object")).get("reference"))
            quote = _usable_id(ref.get("uuid")) if drift.normalize_word(
                str(ref.get("type") or "")) == "quote" else None
        elif not drift.normalize_word(event).startswith("quote"):
            return []
        if not quote:
            return []
        stamp = body.get("timestamp")
        when = parse_datetime(stamp) if isinstance(stamp, int | float) else None
        return [WebhookHint(
            entity=Entity.PROPOSALS, remote_id=quote, event=event,
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
        remembered when it made them (`key` is None).
        """
        path = self.account.path("webhooks", "/webhooks")
        return [Subscription(str(i["uuid"]), None, bool(i.get("isEnabled", True)))
                for page in client.paginate(path, LastPagePaginator(PAGE_SIZE),
                                            records_path=("data", "items"))
                for i in page.records if isinstance(i, dict) and i.get("uuid")]

    def webhook_key(self, request: WriteRequest) -> str:
        """A subscription is its event type and URL."""
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
    if "currency" in changes and changes["currency"] not in CURRENCIES:
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

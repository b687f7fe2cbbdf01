"""Offorte (proposals): two API dialects, chosen per account by `api_version`.

v1 (the seed, default): `/api/v1/{account}`, OAuth2 bearer with a 30-day access token and a
refresh grant, companies with their people inline, `"$999.99"` display money and
`"15 jun 2018 (06:49)"` dates. v2: `/api/v2/{account}`, a raw `Authorization: <key>`,
contacts split into organisations (companies) and people (contacts), ISO dates and
locale money strings (`"€ 1000,00"`, `"€45,521.00"`). Both produce the same canonical rows.

Status words (vendor -> canonical; `status_out` is the reverse for pushes):

    edit   -> draft       draft    -> edit
    open   -> sent        sent     -> open
    open + views > 0 -> viewed        viewed, ordered -> (cannot be set)
    won    -> accepted    accepted -> won
    lost   -> rejected    rejected -> lost
    closed -> expired     expired, canceled -> closed   ("closed" = no longer open, not won/lost)

Status words match case-, space-, hyphen- and underscore-insensitively ("WON", " won ",
"Open"); the account's `status_map` beats the table; a word still unknown keeps the row
with `status` NULL, `vendor_status` the word, noted as unmapped in the drift table.

Decisions where Offorte is silent (see shared/vendors.md "Project decisions"):
  * Line items are the `type == "price"` rows of `content.pricetables[].rows[]`; discount,
    subtotal and title rows only lay out the document and stay in the proposal's raw JSON.
    A row type nobody listed (noted as unmapped) is a line item when it carries a
    quantity, a price or a subtotal, else it stays in raw only; an account's
    `line_item_types` adds priced types. `position` is the 1-based running index over the
    kept rows of all price tables; a row without a usable id (none, `false`, or a value
    that is no id at all, which is noted) gets `"{proposal}:{table index}:{row index}"`,
    so one odd row never takes its proposal down. `discount` is an amount (percentage
    discounts are converted), `total_net` is the row subtotal minus it; a discount whose
    type or value cannot be read leaves `discount` and `total_net` NULL (never a guess).
  * `total_gross` is `price_total_original` (a number in v1, a string in v2) and only
    falls back to the display string; `price_total_override` stays in raw. An amount
    that cannot be read is NULL and noted, never 0. `currency` comes from the display
    string: a known symbol, or three capital letters kept as written; another symbol is
    noted as unmapped and leaves `currency` unset.
  * Only a record without a usable id or with an unusable structure is quarantined (see
    the record models); a person without a usable id inside a company's `people[]` is
    left out (noted) and the company's people are then not taken as the complete set.
  * Idempotent create: Offorte has no external id, so syncd puts its marker in the
    proposal's internal `remarks` (not shown to the client, unlike a name suffix) and
    `find_by_marker` searches `/proposals/edit?query=<marker>` (the search ignores the
    status) and confirms the hit's remarks. Companies and people carry no such field:
    `find_lookalikes` finds them by the values sent (name search, the company's people, or
    the v2 e-mail search), and the engine adopts the first one no mirror row holds. A record
    someone else created at Offorte with exactly those values since the last pull would be
    adopted too; it holds what the mirror row holds, so nothing diverges.
  * Content edits (name, price, company, contacts) are accepted only while the proposal is
    in `edit`; other statuses take status changes only. syncd refuses such pushes up front.
  * Price table rows can only be given when a proposal is created; later line-item changes
    are reported unsupported.
  * v1 dates carry no zone and are read as UTC; `proposal_viewed` webhooks are the only
    signal that an open proposal was viewed (the v1 list shows no views).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from html import escape
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import httpx
from pydantic import StrictBool

from syncd import drift
from syncd.canonical import Bundle, Entity, ProposalStatus
from syncd.drift import (
    AnyMoney,
    Date,
    DriftKind,
    Integer,
    Key,
    Money,
    MoneyText,
    Number,
    Record,
    RefId,
    Text,
    Word,
    word_table,
)
from syncd.errors import (
    BadRecord,
    SettingsError,
    VendorError,
    VendorRefused,
    VendorUnsupported,
)
from syncd.http.auth import HeaderKeyAuth, OAuth2RefreshAuth, TokenStore
from syncd.http.paginators import PageNumberPaginator
from syncd.parsing import currency_of, parse_datetime, parse_decimal, parse_id, strip_html
from syncd.vendors.base import (
    AccountConfig,
    Connector,
    DetailSpec,
    Op,
    StreamSpec,
    Subscription,
    VendorClient,
    VendorOptions,
    WebhookHint,
    WriteRequest,
    default_fingerprint,
)

PAGE_SIZE = 50  # fixed by Offorte, no size parameter
PARTITIONS = ("edit", "open", "won", "lost", "closed")
CONTENT_FIELDS = frozenset({"title", "total_gross", "company_id", "contact_id"})
NO_ROWS = "Offorte price table rows can only be added when the proposal is created"

# ---- record models ---------------------------------------------------------------------------
# where `_create_proposal` puts syncd's marker: "syncd:<marker>" in the internal remarks
MARKER_IN_REMARKS = re.compile(r"syncd:(syncd-[0-9a-f]+)")

# Strict about identity and money, tolerant about vocabulary (syncd/drift.py). Only these
# fail validation (and quarantine the record): a record without a usable id (`Key`), or an
# unusable structure — an object that is not an object (`content`, `logs`, a price table,
# a row, `company`/`contact` unless `false`), a list that is not a list (`pricetables`,
# `rows`, `receivers`, `emails`, `people`). Any other odd value degrades to NULL (noted)
# or is coerced where its meaning is certain (noted). Undocumented keys stay in raw and
# are counted by the engine; `drift_known` lists the documented keys the mapping does
# not read (fingerprint, find_by_marker and the push read some of them from raw).
# Native types: money rows and `price_total_original` (v1) are JSON numbers, display
# totals and v2 `price_total_original`/`discount_value` strings; both are read exactly.
_COMPANY_DOC = frozenset({
    "fax", "linkedin", "facebook", "twitter", "instagram", "account_user_id",
    "account_user_name", "proposals_open", "proposals_won", "tags", "type", "proposals"})
_PERSON_DOC = frozenset({
    "salutation", "street", "zipcode", "city", "state", "country", "internet", "linkedin",
    "facebook", "twitter", "instagram", "fax", "type", "organisation", "account_user_id",
    "account_user_name", "tags", "name", "owner", "coc_number", "vat_number", "proposals"})
_COMPANY_FIELDS = frozenset({
    "id", "name", "email", "phone", "internet", "coc_number", "vat_number", "street",
    "zipcode", "city", "state", "country", "date_created", "people"})
_PERSON_FIELDS = frozenset({
    "id", "company_id", "contact_id", "firstname", "lastname", "fullname", "email", "phone",
    "mobile", "date_created"})


class _PersonFields(Record):
    """What syncd reads of a person (v1 `people[]`, v2 `/contacts/people/`)."""

    drift_known = _PERSON_DOC
    company_id: RefId = None  # v1
    contact_id: RefId = None  # v2: the organisation (`false` when none)
    firstname: Text = None
    lastname: Text = None
    fullname: Text = None
    email: Text = None
    phone: Text = None
    mobile: Text = None
    date_created: Date = None


class PersonModel(_PersonFields):
    """A person record of its own (v2 people list, a fetched contact): its id is its
    identity.
    """

    id: Key


class PersonEntry(_PersonFields):
    """A person inside a company's `people[]`: one without a usable id is left out of
    the mirror (noted) instead of taking its company down.
    """

    id: RefId = None


class CompanyModel(Record):
    """v1 company (with `people[]` in lists and details) or v2 organisation."""

    drift_known = _COMPANY_DOC
    id: Key
    name: Text = None
    email: Text = None
    phone: Text = None
    internet: Text = None
    coc_number: Text = None
    vat_number: Text = None
    street: Text = None
    zipcode: Text = None
    city: Text = None
    state: Text = None
    country: Text = None
    date_created: Date = None
    people: list[PersonEntry] | None = None


class ProposalCompany(Record):
    """v1 details `company`: only its id is read (`false` when there is none)."""

    drift_known = _COMPANY_DOC | _COMPANY_FIELDS
    id: RefId = None
    people: list[PersonEntry] | None = None


class ContactModel(Record):
    """v2 details `contact`: a person (`contact_id` = its organisation) or an organisation."""

    drift_known = _PERSON_DOC | _COMPANY_DOC | _PERSON_FIELDS | _COMPANY_FIELDS
    id: RefId = None
    type: Word = None
    contact_id: RefId = None


class RowModel(Record):
    """One `content.pricetables[].rows[]` row; `type` decides whether it is a line item.
    `discount_type` and `selectable` are words or booleans (Any: read by the mapping).
    """

    drift_known = frozenset({
        "product_id", "user_selected", "user_quantity", "recurring_type",
        "recurring_include_in_totals", "unique_id", "hide_price", "count", "userinput_count",
        "userinput_optional", "userinput_optional_checked"})
    id: RefId = None
    type: Word = None
    content: Text = None
    quantity: Number = None
    price: Money = None
    subtotal: Money = None
    vat_percentage: Number = None
    discount_type: Any = None
    discount_value: AnyMoney = None  # v1 a number, v2 a string ("400", "")
    sku: RefId = None  # text or a number, like an id
    selectable: Any = None


class TableSettings(Record):
    """A price table's settings, read for the default VAT rate of its rows."""
    drift_known = frozenset({"vat_hidden", "rows_include_vat"})
    vat_default_percentage: Number = None


class PricetableModel(Record):
    """One price table of a proposal: its rows are the line items."""
    drift_known = frozenset({"id", "subtotal", "total", "vat"})
    rows: list[RowModel] | None = []  # null: a table without rows
    settings: TableSettings | None = None


class ContentModel(Record):
    """A proposal's content, which holds its price tables."""
    pricetables: list[PricetableModel] | None = []  # null: line items not known


class ReceiverModel(Record):
    """A person a proposal is sent to."""
    drift_known = frozenset({"fullname", "email", "pass", "signature_required",
                             "signature_allowed"})
    id: RefId = None


class SummaryModel(Record):
    """How often a proposal was viewed."""
    drift_known = frozenset({"pdf", "recent_view", "last_modified_date", "last_modified_user"})
    views: Integer = None


class LogsModel(Record):
    """A proposal's activity log, read for its summary."""
    drift_known = frozenset({"history"})
    summary: SummaryModel | None = None


class EmailModel(Record):
    """A sent email of a proposal, read for when it was sent."""
    drift_known = frozenset({"id", "proposal_version_nr", "message", "sended_by", "receivers"})
    date_sended: Date = None


class ProposalModel(Record):
    """A list record merged with its details (or details alone, for webhook fetches)."""

    drift_known = frozenset({
        "version_id", "account_user_id", "account_user_name", "account_user_email",
        "company_name", "contact_name", "contact_person_fullname", "directory_id", "tags",
        "total_price", "total_price_override", "price_total_override", "remarks",
        "proposal_language", "language", "design_template_id", "text_template_id",
        "comments", "custom_fields", "agree", "type", "pages_total"})
    id: Key
    name: Text = None
    status: Word = None
    proposal_nr: RefId = None  # text or a number, like an id
    price_total: MoneyText = None  # the display string: "$999.99", "€ 1000,00"
    price_total_original: AnyMoney = None  # v1 a number, v2 a decimal string
    company_id: RefId = None
    contact_id: RefId = None
    contact_type: Word = None
    company: ProposalCompany | StrictBool | None = None
    contact: ContactModel | StrictBool | None = None
    receivers: list[ReceiverModel] | None = None
    content: ContentModel | None = None
    logs: LogsModel | None = None
    emails: list[EmailModel] | None = None
    date_created: Date = None
    date_modified: Date = None
    date_viewed: Date = None
    date_won: Date = None


class UserModel(Record):
    """Account users (proposal owners): kept as raw extras, so only the id is read."""

    drift_known = frozenset({"email", "firstname", "lastname", "phone", "jobtitle",
                             "date_lastlogin"})
    id: Key


def record_id(rec: Any) -> str:
    """A record's id by the record models' own rule (`drift.Key`): text, or an integer
    (an integral float is the same number); anything else raises -> quarantine.
    """
    value = rec["id"]
    if type(value) is str and value.strip():
        return value
    if type(value) is int:
        return str(value)
    if type(value) is float and value.is_integer():
        return str(int(value))
    raise ValueError(f"not a usable id: {value!r}")


# ---- mapping ---------------------------------------------------------------------------------
COMPANY_KEYS = {
    "name": "name", "email": "email", "phone": "phone", "website": "internet",
    "vat_number": "vat_number", "registration_number": "coc_number", "street": "street",
    "postal_code": "zipcode", "city": "city", "state": "state", "country": "country",
}
PERSON_KEYS = {
    "first_name": "firstname", "last_name": "lastname", "full_name": "fullname",
    "email": "email", "phone": "phone", "mobile": "mobile",
}
# Row types (matched case-, space-, hyphen- and underscore-insensitively): price rows are
# line items; the layout rows stay in raw. A type nobody listed is a line item when it
# carries a quantity, a price or a subtotal (noted as unmapped either way); an account
# adds types with `line_item_types`.
PRICED_ROWS = frozenset({"price"})
LAYOUT_ROWS = frozenset({"discount", "subtotal", "title"})
ROWS = "content.pricetables[].rows[]"
_CONTACT_TYPES = word_table({"organisation": "organisation", "organization": "organisation",
                             "person": "person"})
# discount_type: documented words, and the booleans real payloads carry (true = amount)
_DISCOUNTS = word_table({"amount": "amount", "percentage": "percentage", "true": "amount",
                         "1": "amount", "false": "none", "0": "none"})
# selectable: "check"/"radio" (v1) or a boolean (v2): whether the client may leave it out
_SELECTABLE = word_table({"check": True, "radio": True, "true": True, "1": True,
                          "false": False, "0": False})
_NOT_A_SYMBOL = re.compile(r"[\d\s.,'+\-]")
_DIGIT = re.compile(r"\d")


def _fields(model: Record, keys: Mapping[str, str]) -> dict[str, Any]:
    """Canonical fields for the vendor keys the record actually has (absent = unknown);
    Offorte sends "" for an empty field, the mirror says NULL.
    """
    given = model.model_fields_set
    row = {canon: getattr(model, vendor) or None for canon, vendor in keys.items()
           if vendor in given}
    created = getattr(model, "date_created", None)
    if created is not None:
        row["created_at"] = created
    return row


def _company_row(model: CompanyModel, raw: Mapping[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in raw.items() if k != "people"}
    return {"remote_id": model.id, **_fields(model, COMPANY_KEYS), "raw": body}


def _person_row(model: _PersonFields, remote_id: str, raw: Mapping[str, Any],
                company: str | None) -> dict[str, Any]:
    return {"remote_id": remote_id, "company_id": company, **_fields(model, PERSON_KEYS),
            "raw": dict(raw)}


def map_company(conn: Any, model: CompanyModel, raw: dict[str, Any]) -> Bundle:
    """v1 company (people inline: the complete set) or v2 organisation (people listed apart).
    A person without a usable id is left out (noted), and the set is then not complete, so
    no mirrored person is deleted because of it.
    """
    bundle = Bundle(companies=[_company_row(model, raw)])
    if model.people is not None and isinstance(raw.get("people"), list):
        complete = True
        for person, person_raw in zip(model.people, raw["people"], strict=True):
            if person.id is None:
                drift.note(DriftKind.UNPARSEABLE_VALUE, "people[].id", person_raw.get("id"))
                complete = False
                continue
            bundle.contacts.append(_person_row(person, person.id, person_raw, model.id))
        if complete:
            bundle.complete_contacts_of.add(model.id)
    return bundle


def map_person(conn: Any, model: PersonModel, raw: dict[str, Any]) -> Bundle:
    """v2 person: `contact_id` is the organisation (false when the person has none)."""
    return Bundle(contacts=[_person_row(model, model.id, raw, model.contact_id)])


def map_user(conn: Any, model: UserModel, raw: dict[str, Any]) -> Bundle:
    """Account users are kept as non-canonical extras (proposal owners)."""
    return Bundle(extras=[("users", model.id, raw)])


def _given(value: Any) -> bool:
    """The vendor said something (not null, "" or Offorte's `false`)."""
    return value is not None and value != "" and value is not False


def _currency(shown: Any) -> str | None:
    """The ISO code a display total implies: a known symbol, or three capital letters
    (kept as written). Another symbol is noted as unmapped and gives NULL, not a guess.
    A text holding no amount at all ("TBD") implies no currency.
    """
    if not isinstance(shown, str) or not _DIGIT.search(shown):
        return None
    code = currency_of(shown)
    if code is None:
        symbol = _NOT_A_SYMBOL.sub("", shown)
        if symbol:
            drift.note(DriftKind.UNMAPPED_WORD, "price_total.currency", symbol)
    return code


def _line_items(conn: Connector, pid: str, content: ContentModel,
                raw: Any) -> list[dict[str, Any]]:
    """Price rows as line items; `raw` is the unmodified `content` object."""
    items: list[dict[str, Any]] = []
    for t, table in enumerate(content.pricetables or ()):
        default_vat = table.settings.vat_default_percentage if table.settings else None
        for i, row in enumerate(table.rows or ()):
            if not _is_line(conn, row):
                continue
            row_raw = raw["pricetables"][t]["rows"][i]
            text = strip_html(row.content) or ""
            name, _, rest = text.partition("\n")
            qty, price, gross = parse_decimal(row.quantity), row.price, row.subtotal
            if gross is None and qty is not None and price is not None:
                gross = qty * price
            discount, known = _discount(row, row_raw, gross)
            vat = row.vat_percentage if row.vat_percentage is not None else default_vat
            items.append({
                "remote_id": row.id or f"{pid}:{t}:{i}",
                "proposal_remote_id": pid, "position": len(items) + 1,
                "sku": row.sku, "name": name.strip() or None,
                "description": rest.strip() or None, "quantity": qty, "unit_price": price,
                "discount": discount, "tax_rate": parse_decimal(vat),
                "total_net": gross - (discount or 0) if gross is not None and known else None,
                "optional": _optional(row.selectable), "raw": row_raw,
            })
    return items


def _is_line(conn: Connector, row: RowModel) -> bool:
    """Whether a row is a line item (see PRICED_ROWS). A row without any type is one when
    it carries an amount; that is no word to note.
    """
    if row.type == "price":  # the common case, answered first
        return True
    amount = drift.carries_amount(row.quantity, row.price, row.subtotal)
    if not _given(row.type):
        return amount
    return conn.is_priced_line(row.type, PRICED_ROWS, LAYOUT_ROWS, amount, f"{ROWS}.type")


def _discount(row: RowModel, row_raw: Mapping[str, Any],
              gross: Decimal | None) -> tuple[Decimal | None, bool]:
    """The row's discount as an amount, and whether it is known (else `total_net` is NULL:
    money is never guessed). Percentages are converted; `true` means an amount.
    """
    kind: str | None
    flag = row.discount_type
    if flag is None or flag is False or flag == "":
        kind = "none"
    elif flag is True:
        kind = "amount"
    elif isinstance(flag, str | int):
        kind = drift.lookup(_DISCOUNTS, flag, f"{ROWS}.discount_type")
    else:
        drift.note(DriftKind.UNPARSEABLE_VALUE, f"{ROWS}.discount_type", flag)
        kind = None
    value = row.discount_value
    if value is None:  # none given is no discount; one that could not be read is unknown
        return None, not _given(row_raw.get("discount_value")) or kind == "none"
    if kind == "none":
        return None, True
    if kind is None:
        return None, False
    if kind == "percentage":
        return (None, False) if gross is None else (gross * value / 100, True)
    return value, True


def _optional(flag: Any) -> bool | None:
    """`selectable`: "check"/"radio" or true make the row optional; an unknown word is
    NULL (noted).
    """
    if flag is None or flag is False or flag == "":
        return False
    if flag is True:
        return True
    if isinstance(flag, str | int):
        return drift.lookup(_SELECTABLE, flag, f"{ROWS}.selectable")
    drift.note(DriftKind.UNPARSEABLE_VALUE, f"{ROWS}.selectable", flag)
    return None


def _refs(model: ProposalModel) -> dict[str, str | None]:
    """Remote company and contact of a proposal, from whichever shape this record has.
    A contact type nobody listed says nothing about the company (left unknown, not
    guessed); the contact then comes from the receivers, as for an organisation.
    """
    refs: dict[str, str | None] = {}
    given = model.model_fields_set
    company = model.company if isinstance(model.company, ProposalCompany) else None
    if "company" in given:  # v1 details (`false`: no company)
        refs["company_id"] = company.id if company else None
    elif "company_id" in given:  # v1 list record only
        refs["company_id"] = model.company_id
    contact = model.contact
    if contact is False:  # v2 details without a contact
        refs["company_id"] = None
    elif isinstance(contact, ContactModel):  # v2 details: a person (in an organisation) or an org
        kind = drift.lookup(_CONTACT_TYPES, contact.type, "contact.type")
        if kind == "person":
            refs["contact_id"] = contact.id
            refs["company_id"] = contact.contact_id
        elif kind == "organisation":
            refs["company_id"] = contact.id
    elif "contact_type" in given and drift.lookup(  # v2 list record only
            _CONTACT_TYPES, model.contact_type, "contact_type") == "organisation":
        refs["company_id"] = model.contact_id
    if "contact_id" not in refs and model.receivers is not None:
        first = model.receivers[0].id if model.receivers else None
        if first is None and company is not None and company.people:
            first = company.people[0].id
        refs["contact_id"] = first
    return refs


def map_proposal(conn: Connector, model: ProposalModel, raw: dict[str, Any]) -> Bundle:
    """One proposal (list + details merged) with its price rows as line items. Fields the
    record does not carry are left out of the row (unknown, not NULL).
    """
    pid = model.id
    given = model.model_fields_set
    row: dict[str, Any] = {"remote_id": pid, **_refs(model), "raw": raw}
    if "name" in given:
        row["title"] = model.name
    if "status" in given:
        status = conn.map_status(model.status)
        views = model.logs.summary.views if model.logs and model.logs.summary else None
        if status == ProposalStatus.SENT and ((views or 0) > 0 or model.date_viewed):
            status = ProposalStatus.VIEWED
        row.update(status=status, vendor_status=model.status)
    if "proposal_nr" in given:
        row["number"] = model.proposal_nr
    if _given(raw.get("price_total_original")) or _given(raw.get("price_total")):
        # the exact number first, the display string only when it is missing
        row["total_gross"] = (model.price_total_original
                              if model.price_total_original is not None else model.price_total)
        code = _currency(raw.get("price_total"))
        if code:
            row["currency"] = code
    for canon, value in (("created_at", model.date_created), ("updated_at", model.date_modified),
                         ("decided_at", model.date_won)):
        if value is not None:
            row[canon] = value
    sent = [e.date_sended for e in model.emails or () if e.date_sended is not None]
    if sent:
        row["sent_at"] = min(sent)
    bundle = Bundle(proposals=[row])
    if model.content is not None and model.content.pricetables is not None:
        bundle.line_items = _line_items(conn, pid, model.content, raw["content"])
        bundle.complete_line_items.add(pid)
    return bundle


def proposal_fingerprint(rec: dict[str, Any]) -> str:
    """What "changed" means for a list record; only then are the details fetched."""
    keys = ("id", "version_id", "status", "name", "price_total", "price_total_original",
            "price_total_override", "proposal_nr", "company_id", "contact_id",
            "account_user_id", "date_modified", "date_viewed", "date_won")
    return default_fingerprint({k: rec.get(k) for k in keys})


def _modified(rec: dict[str, Any]) -> str | None:
    """v2 high-water mark: date_modified normalised to sortable ISO UTC."""
    when = parse_datetime(rec.get("date_modified") or rec.get("date_created"))
    return when.isoformat() if when else None


def _merge(rec: dict[str, Any], detail: Any) -> Any:
    return {**rec, **detail} if isinstance(detail, dict) else detail


def _pages(size: int, state: dict[str, Any] | None) -> PageNumberPaginator:
    return PageNumberPaginator(size, state)


def _streams(version: str) -> tuple[StreamSpec, ...]:
    v2 = version == "v2"
    proposals = StreamSpec(
        "proposals", "/proposals/{partition}/" if v2 else "/proposals/{partition}", _pages,
        ProposalModel, map_proposal, Entity.PROPOSALS, PAGE_SIZE,
        params={"sort": "date_modified"} if v2 else {}, partitions=PARTITIONS,
        id_of=record_id, fingerprint=proposal_fingerprint,
        high_water=_modified if v2 else None,
        detail=DetailSpec("/proposals/{id}/details" + ("" if v2 else "/"),
                          name="proposal_details", id_of=record_id, merge=_merge),
    )
    users = StreamSpec("users", "/account/users" + ("" if v2 else "/"), _pages, UserModel,
                       map_user, "users", PAGE_SIZE, id_of=record_id, deletes_missing=False)
    if not v2:
        companies = StreamSpec("companies", "/companies", _pages, CompanyModel, map_company,
                               Entity.COMPANIES, PAGE_SIZE, id_of=record_id)
        return (companies, proposals, users)
    organisations = StreamSpec("organisations", "/contacts/organisations/", _pages,
                               CompanyModel, map_company, Entity.COMPANIES, PAGE_SIZE,
                               id_of=record_id)
    people = StreamSpec("people", "/contacts/people/", _pages, PersonModel, map_person,
                        Entity.CONTACTS, PAGE_SIZE, id_of=record_id)
    return (organisations, people, proposals, users)


# ---- auth ------------------------------------------------------------------------------------
class OfforteOAuth2(OAuth2RefreshAuth):
    """v1: the generic OAuth2 refresh scheme, configured from the account's auth keys.

    Offorte serves the refresh grant at `{oauth_url}/oauth2/refresh-token` (default
    `https://{account}.offorte.com`) and spends the old refresh token on every refresh.
    """

    def __init__(self, tokens: TokenStore, settings: Mapping[str, str | None],
                 oauth_url: str) -> None:
        super().__init__(
            tokens, access_token=settings.get("access_token"),
            refresh_token=settings.get("refresh_token"), client_id=settings.get("client_id"),
            client_secret=settings.get("client_secret"), oauth_url=oauth_url, label="offorte")


# ---- the connector -----------------------------------------------------------------------------
def _same_text(held: Any, sent: Any) -> bool:
    """A value Offorte holds equals the one sent ("" and null both mean empty)."""
    return (held or "") == (sent or "") or str(held) == str(sent)


def _vendor_id(remote_id: Any) -> Any:
    """Offorte wants integer ids in bodies; syncd keeps them as text."""
    text = str(remote_id)
    return int(text) if text.isdigit() else text


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _flat(raw: Any) -> dict[str, Any]:
    """The vendor JSON of a mirror row, whether given bare or keyed by stream name."""
    if not isinstance(raw, dict):
        return {}
    if raw and "id" not in raw and all(isinstance(v, dict) for v in raw.values()):
        return {k: v for part in raw.values() for k, v in part.items()}
    return raw


class OfforteOptions(VendorOptions):
    """Offorte's own `[[accounts]]` key: which API dialect the account speaks."""

    api_version: Literal["v1", "v2"] = "v1"


class OfforteConnector(Connector):
    """Offorte v1 (OAuth2) or v2 (API key); see the module docstring for the decisions."""

    vendor = "offorte"
    display_name = "Offorte"
    reads_summary = (
        "v1 (default): companies with people, 5 status lists, details only when a "
        "proposal's list fingerprint changed; `api_version = \"v2\"`: contacts, ISO dates, "
        "locale money, early stop on `sort=date_modified`")
    auth_summary = (
        "v1 OAuth2 `access_token`, `refresh_token`, `client_id`, `client_secret`, "
        "`oauth_url`; v2 `api_key`")
    streams = _streams("v1")
    status_map = {"edit": ProposalStatus.DRAFT, "open": ProposalStatus.SENT,
                  "won": ProposalStatus.ACCEPTED, "lost": ProposalStatus.REJECTED,
                  "closed": ProposalStatus.EXPIRED}
    status_out = {ProposalStatus.DRAFT: "edit", ProposalStatus.SENT: "open",
                  ProposalStatus.ACCEPTED: "won", ProposalStatus.REJECTED: "lost",
                  ProposalStatus.EXPIRED: "closed", ProposalStatus.CANCELED: "closed",
                  ProposalStatus.VIEWED: None, ProposalStatus.ORDERED: None}
    capabilities = {
        **{(e, op): None for e in (Entity.COMPANIES, Entity.CONTACTS, Entity.PROPOSALS)
           for op in (Op.CREATE, Op.UPDATE, Op.DELETE)},
        (Entity.PROPOSALS, Op.STATUS): None,
        (Entity.PROPOSALS, Op.SEND): "syncd sets the status word; sending stays a user action",
        **{(Entity.LINE_ITEMS, op): NO_ROWS for op in (Op.CREATE, Op.UPDATE, Op.DELETE)},
    }
    writable_fields = {
        Entity.COMPANIES: frozenset(COMPANY_KEYS),
        Entity.CONTACTS: frozenset(PERSON_KEYS),
        Entity.PROPOSALS: frozenset({"title", "status", "company_id", "contact_id",
                                     "total_gross"}),
    }

    options_model = OfforteOptions

    def __init__(self, account: AccountConfig) -> None:
        super().__init__(account)
        version = cast(OfforteOptions, account.options).api_version
        self.v2 = version == "v2"
        self.streams = _streams(version)  # type: ignore[misc]

    # ---- transport ---------------------------------------------------------------------------
    def auth(self, tokens: TokenStore) -> httpx.Auth:
        """v2 takes the raw API key; v1 an OAuth pair, refreshed when Offorte rejects it."""
        if self.v2:
            key = self.account.secret("api_key")
            if not key:
                raise SettingsError("accounts.auth.api_key", "required for Offorte API v2")
            return HeaderKeyAuth("Authorization", key)  # v2: the raw key, no "Bearer"
        keys = ("access_token", "refresh_token", "client_id", "client_secret")
        settings = {k: self.account.secret(k) for k in keys}
        return OfforteOAuth2(tokens, settings, self.account.secret("oauth_url") or self._oauth())

    def _oauth(self) -> str:
        """https://{account}.offorte.com, the account being the base URL's last segment."""
        name = urlsplit(self.account.base_url).path.rstrip("/").rsplit("/", 1)[-1]
        return f"https://{name}.offorte.com"

    def refusal_message(self, response: httpx.Response) -> str:
        """Offorte errors are a bare status code; give the documented meaning."""
        meaning = {400: "Bad Request: the request is invalid", 401: "Unauthorized",
                   403: "Forbidden: the item is hidden or locked (only proposals in 'edit' "
                        "accept content changes)", 404: "Not Found", 405: "Method Not Allowed",
                   410: "Gone: the item was removed", 429: "Too Many Requests"}
        text = response.text.strip()[:300]
        base = meaning.get(response.status_code, f"HTTP {response.status_code}")
        return f"{base}: {text}" if text else base

    def _p(self, name: str, v1: str, v2: str) -> str:
        return self.account.path(name, v2 if self.v2 else v1)

    # ---- writes ------------------------------------------------------------------------------
    # (the base class checks the matrix and `writable_fields` before these hooks run)
    @staticmethod
    def _company_body(changes: Mapping[str, Any]) -> dict[str, Any]:
        return {COMPANY_KEYS[k]: v for k, v in changes.items()}

    @staticmethod
    def _person_body(changes: Mapping[str, Any]) -> dict[str, Any]:
        return {PERSON_KEYS[k]: v for k, v in changes.items()}

    def create_requests(self, entity: Entity, row: dict[str, Any],
                        children: list[dict[str, Any]], marker: str) -> list[WriteRequest]:
        """Offorte creates companies, people and proposals, each at the path of the account's API version."""
        if entity == Entity.COMPANIES:
            fields = tuple(k for k in COMPANY_KEYS if row.get(k) is not None)
            body = self._company_body({k: row[k] for k in fields})
            if not body.get("name"):
                raise VendorRefused("Offorte needs a name to create a company")
            if self.v2:
                body["type"] = "organisation"
            path = self._p("company_create", "/companies/", "/contacts/")
            return [WriteRequest("POST", path, "create", entity, body, fields=fields)]
        if entity == Entity.CONTACTS:
            return [self._create_person(row)]
        return [self._create_proposal(row, children, marker)]  # the matrix allows no other

    def _create_person(self, row: dict[str, Any]) -> WriteRequest:
        company = row.get("company_remote_id")
        fields = tuple(k for k in PERSON_KEYS if row.get(k) is not None)
        body = self._person_body({k: row[k] for k in fields})
        if not body.get("fullname") and (body.get("firstname") or body.get("lastname")):
            body["fullname"] = " ".join(filter(None, (body.get("firstname"),
                                                      body.get("lastname"))))
        if not company or not body.get("fullname") or not body.get("email"):
            raise VendorRefused("Offorte creates a person only inside a company, with a "
                                "full name and an e-mail address")
        path = self._p("contact_create", "/companies/{company}/people/",
                       "/contacts/{company}/people").format(company=company)
        return WriteRequest("POST", path, "create", Entity.CONTACTS, body, fields=fields)

    def _create_proposal(self, row: dict[str, Any], children: list[dict[str, Any]],
                         marker: str) -> WriteRequest:
        company, contact = row.get("company_remote_id"), row.get("contact_remote_id")
        if not company:
            raise VendorRefused("Offorte needs a company to create a proposal")
        body: dict[str, Any] = {"name": row.get("title") or "", "remarks": f"syncd:{marker}"}
        body["contact_id" if self.v2 else "company_id"] = _vendor_id(company)
        if contact:
            body["contact_people" if self.v2 else "company_contacts"] = [_vendor_id(contact)]
        rows = [self._row_body(c) for c in sorted(children, key=lambda c: c.get("position") or 0)]
        if rows:
            table = self.account.path("pricetable_unique_id", "pricetable1")
            body["content"] = {"pricetables": [{"id": table, "rows": rows}]}
        path = self._p("proposal_create", "/proposals/", "/proposals/")
        # what the new proposal then holds: the rest (price, a later status) follows as updates
        fields = ("title", "company_id") + (("contact_id",) if contact else ()) + (
            ("status",) if row.get("status") in (None, ProposalStatus.DRAFT) else ()) + (
            ("line_items",) if rows else ())
        return WriteRequest("POST", path, "create", Entity.PROPOSALS, body, fields=fields,
                            note="price rows go with the create; Offorte takes none later")

    @staticmethod
    def _row_body(item: Mapping[str, Any]) -> dict[str, Any]:
        content = f"<p>{escape(item.get('name') or '')}</p>"
        if item.get("description"):
            content += f"<p>{escape(item['description'])}</p>"
        row: dict[str, Any] = {"type": "price", "content": content,
                               "quantity": _number(item.get("quantity")) or 1.0,
                               "price": _number(item.get("unit_price")) or 0.0,
                               "selectable": "check" if item.get("optional") else False}
        if item.get("tax_rate") is not None:
            row["vat_percentage"] = _number(item["tax_rate"])
        if item.get("sku"):
            row["sku"] = str(item["sku"])
        if item.get("discount"):
            row.update(discount_type="amount", discount_value=_number(item["discount"]))
        return row

    def update_requests(self, entity: Entity, remote_id: str, changes: dict[str, Any],
                        row: dict[str, Any], raw: dict[str, Any],
                        children: list[dict[str, Any]]) -> list[WriteRequest]:
        """Offorte patches companies and people; a proposal's status and content are separate PATCHes."""
        if entity == Entity.COMPANIES:
            path = self._p("company_update", "/companies/{id}/", "/contacts/{id}")
            return [WriteRequest("PATCH", path.format(id=remote_id), "update", entity,
                                 self._company_body(changes), fields=tuple(changes))]
        if entity == Entity.CONTACTS:
            body = self._person_body(changes)
            return [WriteRequest("PATCH", self._person_path(remote_id, row, raw), "update",
                                 entity, body, fields=tuple(changes))]
        return self._update_proposal(remote_id, changes, row, raw)  # the matrix allows no other

    def _person_path(self, remote_id: str, row: Mapping[str, Any], raw: Any) -> str:
        if self.v2:
            return self.account.path("contact_update", "/contacts/{id}").format(id=remote_id)
        company = parse_id(_flat(raw).get("company_id")) or row.get("company_remote_id")
        if not company:
            raise VendorUnsupported("Offorte v1 addresses a person through its company, "
                                    "and this person has none")
        path = self.account.path("contact_update", "/companies/{company}/people/{id}/")
        return path.format(company=company, id=remote_id)

    def _update_proposal(self, remote_id: str, changes: dict[str, Any], row: dict[str, Any],
                         raw: dict[str, Any]) -> list[WriteRequest]:
        path = self._p("proposal_update", "/proposals/{id}/details/",
                       "/proposals/{id}/details").format(id=remote_id)
        content: dict[str, Any] = {}
        for field, value in changes.items():
            if field == "title":
                content["name"] = value
            elif field == "total_gross":
                content["price_total"] = _number(value)
            elif field == "company_id":
                content["contact_id" if self.v2 else "company_id"] = (
                    _vendor_id(value) if value else None)
            elif field == "contact_id":
                content["contact_people" if self.v2 else "company_contacts"] = (
                    [_vendor_id(value)] if value else [])
        requests: list[WriteRequest] = []
        word: str | None = None
        if "status" in changes:
            word = self.status_out.get(ProposalStatus(changes["status"]))
            if word is None:
                raise VendorUnsupported(f"Offorte has no status word for {changes['status']!r}"
                                        " (it is set by the client's actions)")
            requests.append(WriteRequest("PATCH", path, "status", Entity.PROPOSALS,
                                         {"status": word}, fields=("status",)))
        if content:
            current = row.get("vendor_status") or _flat(raw).get("status")
            fields = tuple(f for f in changes if f in CONTENT_FIELDS)
            edit = WriteRequest("PATCH", path, "update", Entity.PROPOSALS, content, fields=fields)
            if self.map_status(current) == ProposalStatus.DRAFT:  # "edit", "EDIT", " edit "…
                # edit first, then leave edit (if asked)
                requests.insert(0, edit)
            elif word == "edit":  # back to edit first, then edit
                requests.append(edit)
            else:
                raise VendorRefused(f"Offorte accepts {sorted(fields)} changes only while the "
                                    f"proposal is in 'edit' (it is {current!r})", status=403)
        return requests

    def delete_requests(self, entity: Entity, remote_id: str,
                        row: dict[str, Any]) -> list[WriteRequest]:
        """Offorte deletes companies, people and proposals at the path of the account's API version."""
        if entity == Entity.COMPANIES:
            path = self._p("company_delete", "/companies/{id}/", "/contacts/{id}")
        elif entity == Entity.CONTACTS:
            path = self._person_path(remote_id, row, row.get("raw"))
        else:  # proposals: the matrix allows no other
            path = self._p("proposal_delete", "/proposals/{id}/", "/proposals/{id}/")
        return [WriteRequest("DELETE", path.format(id=remote_id), "delete", entity)]

    def created_id(self, entity: Entity, body: Any) -> str:
        """Offorte names the new id after the entity (`proposal_id`, `company_id`, `people_id`)."""
        keys = {Entity.PROPOSALS: ("proposal_id", "id"), Entity.COMPANIES: ("company_id", "id"),
                Entity.CONTACTS: ("people_id", "person_id", "id")}.get(entity, ("id",))
        for key in keys:
            found = parse_id(body.get(key)) if isinstance(body, dict) else None
            if found:
                return found
        raise VendorError(f"Offorte create response without an id: {str(body)[:200]}")

    # ---- lookups -------------------------------------------------------------------------------
    def marker_of(self, entity: Entity, raw: Any) -> str | None:
        """`syncd:<marker>` in a proposal's internal remarks (when the record carries them:
        details do). Companies and people have no field for it: the push's lookalike
        search covers them.
        """
        if entity != Entity.PROPOSALS or not isinstance(raw, dict):
            return None
        found = MARKER_IN_REMARKS.search(str(raw.get("remarks") or ""))
        return found.group(1) if found else None

    def find_by_marker(self, client: VendorClient, entity: Entity, marker: str) -> str | None:
        """Search the proposals (the search ignores the status) and confirm the remarks."""
        if entity != Entity.PROPOSALS:
            return None
        path = self._p("proposals", "/proposals/{partition}", "/proposals/{partition}/")
        hits = client.get_json(path.format(partition="edit"), params={"query": marker})
        for hit in (hits if isinstance(hits, list) else [])[:3]:
            detail = self._get(client, Entity.PROPOSALS, str(hit.get("id")))
            if isinstance(detail, dict) and marker in (detail.get("remarks") or ""):
                return parse_id(detail.get("id")) or str(hit.get("id"))
        return None

    def find_lookalikes(self, client: VendorClient, entity: Entity, path: str,
                        body: Any) -> list[str]:
        """Companies and people have no field for a marker: a lost create is recognised by
        a record holding every value sent, found by the name search (companies), among the
        company's people (v1) or by the e-mail search (v2 people).
        """
        if not isinstance(body, dict):
            return []
        if entity == Entity.COMPANIES and body.get("name"):
            stream = "organisations" if self.v2 else "companies"
            hits = self._search(client, self.account.path(
                stream, "/contacts/organisations/" if self.v2 else "/companies"), body["name"])
        elif entity == Entity.CONTACTS and self.v2 and body.get("email"):
            company = path.rstrip("/").split("/")[-2]  # POST /contacts/{company}/people
            hits = [h for h in self._search(client, self.account.path(
                "people", "/contacts/people/"), body["email"])
                if str(h.get("contact_id")) == company]
        elif entity == Entity.CONTACTS:
            hits = self._search(client, path, None)  # v1: GET what the create POSTed to
        else:
            return []
        sent = {k: v for k, v in body.items() if k != "type"}
        return [str(parse_id(h.get("id"))) for h in hits
                if all(_same_text(h.get(k), v) for k, v in sent.items())]

    def _search(self, client: VendorClient, path: str, query: str | None) -> list[dict[str, Any]]:
        """Every page of a (searched) list; a search returns few, usually one page."""
        pages = client.paginate(path, PageNumberPaginator(PAGE_SIZE),
                                params=None if query is None else {"query": query})
        return [h for page in pages for h in page.records if isinstance(h, dict)]

    def _get(self, client: VendorClient, entity: Entity, remote_id: str) -> Any:
        if entity == Entity.PROPOSALS:
            path = self._p("proposals.proposal_details", "/proposals/{id}/details/",
                           "/proposals/{id}/details")
        elif entity == Entity.COMPANIES or (entity == Entity.CONTACTS and self.v2):
            path = self._p("company", "/companies/{id}/", "/contacts/{id}")
        else:
            raise VendorUnsupported("Offorte v1 fetches people through their company")
        return client.get_one(path.format(id=remote_id))

    def fetch_one(self, client: VendorClient, entity: Entity, remote_id: str) -> Bundle | None:
        """One record by id, validated and mapped like a pull does; what a pull would
        quarantine is a BadRecord here (the webhook loop logs it and goes on). v2's
        `/contacts/{id}` answers a person or an organisation: its `type` says which, and
        when it says nothing syncd knows, the entity asked for decides.
        """
        raw = self._get(client, entity, remote_id)
        if raw is None:
            return None
        try:
            if entity == Entity.PROPOSALS:
                return map_proposal(self, ProposalModel.model_validate(raw), raw)
            kind = drift.lookup(_CONTACT_TYPES, raw.get("type"), "type")
            if kind == "person" or (kind is None and entity == Entity.CONTACTS):
                return map_person(self, PersonModel.model_validate(raw), raw)
            return map_company(self, CompanyModel.model_validate(raw), raw)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # ValidationError too
            raise BadRecord(f"offorte {entity} {remote_id}: {exc}", raw) from exc

    # ---- webhooks -------------------------------------------------------------------------------
    def authenticate_webhook(self, headers: Mapping[str, str], body: bytes,
                             path_secret: str | None, secret: str) -> bool:
        """Offorte signs nothing: the secret path token syncd registered is the proof."""
        if not path_secret or not secret:
            return False
        return hmac.compare_digest(path_secret.encode(), secret.encode())

    def webhook_hints(self, body: Any) -> list[WebhookHint]:
        """Offorte's events name the proposal, company or person changed under `data`."""
        if isinstance(body, bytes | str):
            body = json.loads(body)
        event = str(body.get("type") or "") if isinstance(body, dict) else ""
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return []
        target = _event_target(event, data)
        if target is None:
            return []
        entity, remote_id, deleted = target
        when = parse_datetime(body.get("date_created")) if body.get("date_created") else None
        event_id = default_fingerprint([event, body.get("date_created"), remote_id])
        return [WebhookHint(entity, remote_id, event, event_id, deleted,
                            when.timestamp() if when else None)]

    def webhook_subscriptions(self, url: str, secret: str) -> list[WriteRequest]:
        """One subscription to all events; the secret rides as the last path segment."""
        target = url.rstrip("/")
        if not target.endswith("/" + secret):
            target = f"{target}/{secret}"
        body = {"payload_url": target, "payload_content_type": "json", "active": True,
                "events": ["all"]}
        path = self._p("webhooks", "/webhooks/", "/webhooks")
        return [WriteRequest("POST", path, "webhook", Entity.PROPOSALS, body,
                             note="Offorte webhook subscription (all events)")]

    def existing_webhooks(self, client: VendorClient) -> list[Subscription]:
        """`GET /webhooks/`: a bare list of `{id, active, payload_url, events, ...}`."""
        hooks = client.get_json(self._p("webhooks", "/webhooks/", "/webhooks"))
        return [Subscription(str(h["id"]), str(h.get("payload_url") or ""),
                             bool(h.get("active", True)))
                for h in hooks or [] if isinstance(h, dict) and h.get("id") is not None]

    def webhook_key(self, request: WriteRequest) -> str:
        """A subscription is its payload URL."""
        return str(request.json["payload_url"])

    def webhook_created_id(self, body: Any) -> str | None:
        """v1 answers the hook itself, v2 `{"webhook_id": …}`."""
        found = body.get("webhook_id", body.get("id")) if isinstance(body, dict) else None
        return None if found is None else str(found)

    def webhook_reactivate(self, subscription: Subscription) -> list[WriteRequest]:
        """Offorte switches a hook off after 10 failed deliveries; PATCH switches it on."""
        base = self._p("webhooks", "/webhooks/", "/webhooks").rstrip("/")
        path = f"{base}/{subscription.id}" + ("" if self.v2 else "/")
        return [WriteRequest("PATCH", path, "webhook", Entity.PROPOSALS, {"active": True},
                             note="Offorte webhook subscription reactivated")]


def _event_target(event: str, data: Mapping[str, Any]) -> tuple[Entity, str, bool] | None:
    """(entity, remote id, deleted) an event points at; people point at their company,
    whose fetch lists every person, so a deleted person is noticed too.
    """
    deleted = event.endswith("_deleted")
    own = parse_id(data.get("id"))
    if event.startswith("proposal_") and own:
        return Entity.PROPOSALS, own, deleted
    if event.startswith(("company_contact_", "contact_person_")):
        company = parse_id(data.get("company_id")) or parse_id(data.get("contact_id"))
        if company:
            return Entity.COMPANIES, company, False
        return (Entity.CONTACTS, own, deleted) if own else None
    if event.startswith(("company_", "contact_")) and own:
        if data.get("type") == "person":
            company = parse_id(data.get("contact_id"))
            return (Entity.COMPANIES, company, False) if company else (Entity.CONTACTS, own,
                                                                        deleted)
        return Entity.COMPANIES, own, deleted
    return None

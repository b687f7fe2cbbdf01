"""StrawBlond sandbox data: a deterministic generator, the vendor's JSON rendering and its
Laravel validation rules (pure functions; the HTTP side is `syncd.sandbox.strawblond`).

Stored records are plain dicts with `datetime` values; `render_*` turns them into the JSON
StrawBlond returns: hash ids (`"EO6YGvqMRV"`), ISO timestamps with (always zero)
microseconds like MySQL-backed Laravel models, float money, `vat_detailed` keyed by the
rate as a string, and signed URLs whose `expires`/`signature` change with the clock.
Totals are computed from the elements, as the vendor does, so writes change them.
An offer's or element's `_overrides` (empty unless a test sets them) are keys rendered
as given over the computed ones: what another build of the API says
(`StrawBlondSandbox.override`), or a broken structure (`corrupt_one_record`); totals are
still computed from the stored values.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import string
from collections.abc import Callable, Container
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlsplit

from syncd.netloc import is_loopback_host

OFFER_TYPE = "Modules\\Salesforce\\Offer"
INVOICE_TYPE = "Modules\\Salesforce\\Invoice"
PRICED_TYPES = ("paragraph", "product")
LINE_ITEM_TYPES = ("paragraph", "product", "percentage")
ELEMENT_TYPES = ("paragraph", "product", "percentage", "heading", "subtotal", "text")
VAT_RATES = {"8.1": "vEr81aTqZp", "2.6": "vEr26bUrYo", "3.8": "vEr38cVsXn", "0.0": "vEr00dWtWm"}
ALPHABET = string.ascii_letters + string.digits
CENT = Decimal("0.01")
URL_KEY = b"strawblond-sandbox-app-key"
LIFECYCLE_KEYS = ("approved_at", "rejected_at", "locked_at")
WEBHOOK_EVENTS = frozenset(
    {"*"}
    | {f"{res}.{act}" for res in ("offer", "invoice", "contact", "company", "project",
                                  "expense", "document_element")
       for act in ("created", "updated", "deleted")}
    | {"offer.approved", "offer.rejected", "offer.sent", "invoice.sent", "invoice.paid"}
)

_FIRST = ["Alice", "Bruno", "Chiara", "Dario", "Elena", "Fabian", "Greta", "Hanna", "Ivo",
          "Jana", "Kurt", "Lea", "Marco", "Nina", "Otto", "Petra", "Reto", "Sina", "Urs", "Vreni"]
_LAST = ["Cooper", "Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Brunner",
         "Gerber", "Baumann", "Frei", "Zürcher", "Graf", "Moser", "Steiner", "Wyss"]
_CITIES = [("8645", "Rapperswil"), ("8001", "Zürich"), ("3011", "Bern"), ("4051", "Basel"),
           ("6003", "Luzern"), ("9000", "St. Gallen"), ("1201", "Genève"), ("6900", "Lugano")]
_WORDS = ["CMS", "Upgrade", "Website", "Relaunch", "Hosting", "Support", "Shop", "Design",
          "Workshop", "Migration", "App", "Branding", "SEO", "Intranet", "Newsletter", "API"]
_ITEMS = ["Konzept", "Design", "Entwicklung", "Projektleitung", "Testing", "Schulung",
          "Lizenz", "Hosting (12 Monate)", "Content-Migration", "Support-Pauschale"]
_UNITS = ["h", "Stk.", "Tag", "Pauschal", "Monat"]


def iso(value: datetime | None) -> str | None:
    """Laravel's model date format: `2022-02-09T08:51:59.000000Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_date(value: Any) -> datetime | None:
    """What Laravel's `date` rule accepts, enough for the API's own ISO output."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError("not a date")
    text = value.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0)


def hashid(rng: random.Random, taken: set[str]) -> str:
    """A 10-character hash id, unique among `taken` (which it extends)."""
    while True:
        candidate = "".join(rng.choice(ALPHABET) for _ in range(10))
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def money(value: Decimal) -> float:
    """An amount as StrawBlond writes it: a number with two decimals."""
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


# ---- totals -----------------------------------------------------------------------------
def compute(elements: list[dict[str, Any]]) -> tuple[dict[str, Decimal | None], dict[str, Any]]:
    """Per-element totals and the offer's totals, computed like the vendor's documents.

    Priced rows: quantity × amount minus their discount. A `percentage` row adds `amount`
    percent of the non-optional rows above it; a `subtotal` row shows that running sum.
    Optional rows count only towards `total_optional`.
    """
    per: dict[str, Decimal | None] = {}
    running = Decimal(0)
    optional = Decimal(0)
    net_by_rate: dict[str, Decimal] = {}
    for el in sorted(elements, key=lambda e: e["order"]):
        kind = el["type"]
        total: Decimal | None = None
        if kind in PRICED_TYPES:
            gross = Decimal(str(el.get("quantity") or 0)) * Decimal(str(el.get("amount") or 0))
            value = Decimal(str(el.get("discount_value") or 0))
            discount = gross * value / 100 if el.get("discount_type") == "percentage" else value
            if not el.get("discount_type"):
                discount = Decimal(0)
            total = (gross - discount).quantize(CENT, rounding=ROUND_HALF_UP)
        elif kind == "percentage":
            pct = Decimal(str(el.get("amount") or 0))
            total = (running * pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        elif kind == "subtotal":
            total = running
        per[el["id"]] = total
        if kind in LINE_ITEM_TYPES and total is not None:
            if el.get("is_optional"):
                optional += total
            else:
                running += total
                rate = f"{Decimal(str(el.get('vat_rate') or 0)):.1f}"
                net_by_rate[rate] = net_by_rate.get(rate, Decimal(0)) + total
    vat: dict[str, Any] = {}
    tax_sum = Decimal(0)
    for rate, net in sorted(net_by_rate.items()):
        tax = (net * Decimal(rate) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        tax_sum += tax
        vat[rate] = {"rate": float(rate), "net": money(net), "tax": money(tax)}
    totals = {
        "total": money(running),
        "total_with_vat": money(running + tax_sum),
        "total_optional": money(optional),
        "vat_detailed": vat,
    }
    return per, totals


# ---- the element store ------------------------------------------------------------------
class ElementStore(dict[str, dict[str, Any]]):
    """The `elements` collection: a plain id -> element dict that also keeps its elements
    grouped by `document_id`, so rendering one offer touches only that offer's elements
    (not every element of every offer). Within a document, elements keep the collection's
    own order (insertion order), so `of()` answers exactly what filtering the whole
    collection by `document_id` would. An element's `document_id` never changes in place
    (the API cannot move an element); every other change goes through the dict methods.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._by_doc: dict[str, dict[str, dict[str, Any]]] = {}
        self.update(*args, **kwargs)

    def of(self, document_id: str) -> list[dict[str, Any]]:
        """One document's elements, in the collection's order, without a scan of every element."""
        return list(self._by_doc.get(document_id, {}).values())

    def _unindex(self, key: str) -> None:
        old = dict.get(self, key)
        if old is not None:
            group = self._by_doc.get(old["document_id"])
            if group is not None:
                group.pop(key, None)
                if not group:
                    del self._by_doc[old["document_id"]]

    def __setitem__(self, key: str, value: dict[str, Any]) -> None:
        if key in self:
            old = dict.__getitem__(self, key)
            if old["document_id"] == value["document_id"]:
                dict.__setitem__(self, key, value)
                self._by_doc[value["document_id"]][key] = value
                return
            # a replaced element keeps its place in the collection but joins its new
            # document's group at the end, as a filter over the collection would not:
            # rebuild that group in collection order instead
            self._unindex(key)
            dict.__setitem__(self, key, value)
            doc = value["document_id"]
            self._by_doc[doc] = {k: e for k, e in self.items() if e["document_id"] == doc}
            return
        dict.__setitem__(self, key, value)
        self._by_doc.setdefault(value["document_id"], {})[key] = value

    def __delitem__(self, key: str) -> None:
        self._unindex(key)
        dict.__delitem__(self, key)

    def pop(self, key: str, *default: Any) -> Any:
        """Remove an element from the index too."""
        if key in self:
            self._unindex(key)
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, dict[str, Any]]:
        """Remove the last element from the index too."""
        key, value = dict.popitem(self)
        dict.__setitem__(self, key, value)
        self._unindex(key)
        dict.__delitem__(self, key)
        return key, value

    def clear(self) -> None:
        """Empty the index too."""
        dict.clear(self)
        self._by_doc.clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Add through `__setitem__`, so the index sees every element."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Add through `__setitem__`, so the index sees the element."""
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    # typeshed checks an in-place `|=` against dict.__or__'s generic overloads, which a
    # merge into this store (it stays an ElementStore) cannot match
    def __ior__(self, other: Any) -> ElementStore:  # type: ignore[override, misc]
        self.update(other)
        return self


def elements_of(store: dict[str, dict[str, dict[str, Any]]], document_id: str
                ) -> list[dict[str, Any]]:
    """The elements of one document, in collection order."""
    elements = store.get("elements", {})
    if isinstance(elements, ElementStore):
        return elements.of(document_id)
    return [e for e in elements.values() if e["document_id"] == document_id]


# ---- rendering --------------------------------------------------------------------------
def _signed(root: str, path: str, now: float, expires_in: int | None, extra: str = "") -> str:
    query = extra
    if expires_in is not None:
        query = f"expires={int(now) + expires_in}" + (f"&{extra}" if extra else "")
    signature = hmac.new(URL_KEY, f"{path}?{query}".encode(), hashlib.sha256).hexdigest()
    return f"{root}{path}?{query}{'&' if query else ''}signature={signature}"


def render_company(company: dict[str, Any]) -> dict[str, Any]:
    """A company as StrawBlond's API shows it."""
    return {
        "id": company["id"], "name": company["name"], "email": company["email"],
        "phone": company["phone"], "website": company["website"],
        "vat_number": company["vat_number"], "street": company["street"],
        "zip": company["zip"], "city": company["city"], "country": company["country"],
        "created_at": iso(company["created_at"]), "updated_at": iso(company["updated_at"]),
        "deleted_at": None,
    }


def render_contact(contact: dict[str, Any], company: dict[str, Any] | None = None,
                   with_company: bool = False) -> dict[str, Any]:
    """A contact as StrawBlond's API shows it, with their company when included."""
    body = {
        "id": contact["id"], "company_id": contact["company_id"],
        "salutation": contact["salutation"], "firstname": contact["firstname"],
        "lastname": contact["lastname"], "email": contact["email"], "phone": contact["phone"],
        "mobile": contact["mobile"], "title": contact["title"],
        "created_at": iso(contact["created_at"]), "updated_at": iso(contact["updated_at"]),
        "deleted_at": None,
    }
    if with_company:
        body["company"] = render_company(company) if company else None
    return body


def render_element(el: dict[str, Any], total: Decimal | None,
                   includes: frozenset[str] = frozenset()) -> dict[str, Any]:
    """An element as StrawBlond's API shows it, with its total and the included relations."""
    body = {
        "id": el["id"], "document_type": el["document_type"], "document_id": el["document_id"],
        "order": el["order"], "type": el["type"], "name": el["name"],
        "description": el["description"], "remark": el["remark"], "unit": el["unit"],
        "quantity": el["quantity"], "amount": el["amount"],
        "discount_type": el["discount_type"], "discount_value": el["discount_value"],
        "vat_rate_id": el["vat_rate_id"], "vat_rate": el["vat_rate"], "tag_id": el["tag_id"],
        "product_id": el["product_id"], "is_optional": el["is_optional"],
        "is_external": el["is_external"], "is_excluded_from_budget": el["is_excluded_from_budget"],
        "page_break": el["page_break"], "revenue_account_no": el["revenue_account_no"],
        "total": money(total) if total is not None else None,
        "created_at": iso(el["created_at"]), "updated_at": iso(el["updated_at"]),
    }
    if "elements.tag" in includes:
        body["tag"] = None
    if "elements.product" in includes:
        body["product"] = (
            {"id": el["product_id"], "number": f"P-{el['product_id'][:4].upper()}",
             "name": el["name"]} if el["product_id"] else None
        )
    body.update(el.get("_overrides") or {})
    return body


def render_offer(
    offer: dict[str, Any], store: dict[str, dict[str, dict[str, Any]]], includes: frozenset[str],
    root: str, now: float,
) -> dict[str, Any]:
    """The offer object of seed 001, with relations only when included."""
    elements = elements_of(store, offer["id"])
    per, totals = compute(elements)
    contact = store["contacts"].get(offer["contact_id"] or "")
    company = store["companies"].get(offer["company_id"] or "")
    name = f"{contact['firstname']} {contact['lastname']}" if contact else ""
    oid = offer["id"]
    body: dict[str, Any] = {
        "id": oid, "number": offer["number"], "name": offer["name"],
        "description": offer["description"], "address": offer["address"],
        "header": offer["header"], "footer": offer["footer"],
        "has_page_break_after_header": offer["has_page_break_after_header"],
        "has_page_break_before_footer": offer["has_page_break_before_footer"],
        "approved_at": iso(offer["approved_at"]), "rejected_at": iso(offer["rejected_at"]),
        "locked_at": iso(offer["locked_at"]),
        "is_approved": offer["approved_at"] is not None,
        "is_rejected": offer["rejected_at"] is not None,
        "is_locked": offer["locked_at"] is not None,
        "address_personalized": (offer["address"] or "").replace("{contact}", name),
        "header_personalized": (offer["header"] or "").replace("{contact}", name),
        "footer_personalized": (offer["footer"] or "").replace("{contact}", name),
    }
    if "project" in includes:
        body["project"] = None
    if "contact" in includes:
        body["contact"] = (
            render_contact(contact, company, "contact.company" in includes) if contact else None
        )
    for key, include in (("member", "member"), ("created_by", "createdBy"),
                         ("updated_by", "updatedBy")):
        if include in includes:
            body[key] = None
    if "company" in includes:
        body["company"] = render_company(company) if company else None
    if "elements" in includes:
        body["elements"] = [render_element(e, per[e["id"]], includes)
                            for e in sorted(elements, key=lambda e: e["order"])]
    body.update(totals)
    body["show_vat"] = offer["show_vat"]
    body["vat_detailed"] = totals["vat_detailed"]
    body.update({
        "pdf_url": _signed(root, f"/offer/{oid}/pdf", now, 3600),
        "order_confirmation_pdf_url": _signed(
            root, f"/offer/{oid}/pdf", now, 3600, "options%5Border_confirmation%5D=1"),
        "preview_url": _signed(root, f"/offer/{offer['seq']}/view", now, None),
        "approve_url": _signed(root, f"/offer/{oid}/approve", now, 86400 * 14),
        "reject_url": _signed(root, f"/offer/{oid}/reject", now, 86400 * 14),
        "share_url": _signed(root, f"/offer/{oid}/feedback", now, 86400 * 14),
        "mail_preview_url": f"{root}/document/mail-preview?type=offer&id={oid}",
        "show_terms": offer["show_terms"], "show_signature": offer["show_signature"],
    })
    for key, include in (("activities", "activities"), ("sourced_invoices", "sourcedInvoices")):
        if include in includes:
            body[key] = []
    body["billable_total"] = totals["total"] if offer["approved_at"] else 0.0
    body["billed_total"] = 0.0
    if "comments" in includes:
        body["comments"] = []
    if "media" in includes:
        body["attachments"] = []
    body["custom_fields"] = dict(offer["custom_fields"])
    body["updated_at"] = iso(offer["updated_at"])
    body["created_at"] = iso(offer["created_at"])
    body["deleted_at"] = iso(offer["deleted_at"])
    body.update(offer.get("_overrides") or {})
    return body


# ---- generation -------------------------------------------------------------------------
def new_element(eid: str, offer_id: str, order: int, kind: str, when: datetime,
                **attrs: Any) -> dict[str, Any]:
    """A stored element with every attribute the vendor keeps (defaults: empty)."""
    element = {
        "id": eid, "document_type": OFFER_TYPE, "document_id": offer_id, "order": order,
        "type": kind, "name": None, "description": None, "remark": None, "unit": None,
        "quantity": None, "amount": None, "discount_type": None, "discount_value": None,
        "vat_rate_id": None, "vat_rate": None, "tag_id": None, "product_id": None,
        "is_optional": False, "is_external": False, "is_excluded_from_budget": False,
        "page_break": None, "revenue_account_no": None, "created_at": when, "updated_at": when,
    }
    element.update(attrs)
    return element


def new_offer(oid: str, seq: int, contact: dict[str, Any], when: datetime,
              **attrs: Any) -> dict[str, Any]:
    """A new offer with StrawBlond's default texts for a contact."""
    offer = {
        "id": oid, "seq": seq, "number": f"A-{1000 + seq:05d}", "name": None,
        "description": None,
        "address": "<p><strong>{contact}</strong><br>Rütistrasse 2<br>CH-8645 Rapperswil</p>",
        "header": "<p>Sehr geehrte Damen und Herren</p><p>Vielen Dank für Ihr Interesse</p>",
        "footer": "<p>Freundliche Grüsse<br>StrawBlond GmbH</p>",
        "has_page_break_after_header": False, "has_page_break_before_footer": False,
        "approved_at": None, "rejected_at": None, "locked_at": None,
        "contact_id": contact["id"], "company_id": contact["company_id"], "project_id": None,
        "custom_fields": {}, "show_vat": True, "show_terms": True, "show_signature": False,
        "created_at": when, "updated_at": when, "deleted_at": None, "_overrides": {},
    }
    offer.update(attrs)
    return offer


class Generator:
    """Fills a StrawBlond store from one seed: same seed and sizes, same data."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.taken: set[str] = set()
        self.clock = datetime(2023, 1, 2, 8, 0, tzinfo=UTC)

    def tick(self, max_hours: int = 30) -> datetime:
        """Move the generator's clock on by a random while, so records have distinct times."""
        self.clock += timedelta(hours=self.rng.randint(1, max_hours),
                                seconds=self.rng.randint(0, 3599))
        return self.clock

    def companies(self, count: int) -> list[dict[str, Any]]:
        """Random Swiss companies."""
        rows = []
        for i in range(count):
            zip_code, city = self.rng.choice(_CITIES)
            word = self.rng.choice(_WORDS)
            name = f"{word} {self.rng.choice(_LAST)} {self.rng.choice(['AG', 'GmbH', 'Sàrl'])}"
            when = self.tick(4)
            slug = f"{word.lower()}{i}"
            rows.append({
                "id": hashid(self.rng, self.taken), "name": name,
                "email": f"info@{slug}.ch", "phone": f"+41 44 {self.rng.randint(100, 999)} 12 34",
                "website": f"https://{slug}.ch",
                "vat_number": f"CHE-{self.rng.randint(100, 999)}.{self.rng.randint(100, 999)}"
                              f".{self.rng.randint(100, 999)} MWST",
                "street": f"Bahnhofstrasse {self.rng.randint(1, 99)}", "zip": zip_code,
                "city": city, "country": "CH", "created_at": when, "updated_at": when,
            })
        return rows

    def contacts(self, companies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Random contacts: one to three per company, and some private persons."""
        owners: list[dict[str, Any] | None] = []
        for company in companies:
            owners.extend([company] * self.rng.randint(1, 3))
        owners.extend([None] * max(1, len(companies) // 4))  # private persons
        rows: list[dict[str, Any]] = []
        for owner in owners:
            first, last = self.rng.choice(_FIRST), self.rng.choice(_LAST)
            when = self.tick(4)
            domain = owner["website"].removeprefix("https://") if owner else "example.ch"
            rows.append({
                "id": hashid(self.rng, self.taken), "company_id": owner["id"] if owner else None,
                "salutation": self.rng.choice(["Herr", "Frau", None]), "firstname": first,
                "lastname": last, "email": f"{first.lower()}.{len(rows)}@{domain}",
                "phone": None, "mobile": f"+41 79 {self.rng.randint(100, 999)} 45 67",
                "title": self.rng.choice(["CEO", "CTO", "Marketing", None]),
                "created_at": when, "updated_at": when,
            })
        return rows

    def offer(self, seq: int, contact: dict[str, Any], max_items: int
              ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A random offer for a contact, with its elements."""
        when = self.tick()
        oid = hashid(self.rng, self.taken)
        title = f"{self.rng.choice(_WORDS)} {self.rng.choice(_WORDS)}"
        fields: dict[str, Any] = {"name": title}
        if self.rng.random() < 0.2:
            fields["custom_fields"] = {"crm_id": str(self.rng.randint(10, 999))}
        elements = self.elements(oid, when, self.rng.randint(1, max(1, max_items)))
        roll = self.rng.random()
        last = when + timedelta(minutes=self.rng.randint(5, 600))
        if roll >= 0.35:  # pending, approved or rejected: finalised (locked) when sent
            fields["locked_at"] = last = last + timedelta(hours=self.rng.randint(1, 72))
            if roll >= 0.85:
                fields["rejected_at"] = last = last + timedelta(days=self.rng.randint(1, 20))
            elif roll >= 0.6:
                fields["approved_at"] = last = last + timedelta(days=self.rng.randint(1, 20))
        fields["updated_at"] = last
        return new_offer(oid, seq, contact, when, **fields), elements

    def elements(self, oid: str, when: datetime, items: int) -> list[dict[str, Any]]:
        """`items` line items (priced rows, maybe one percentage row) plus layout rows."""
        rows: list[dict[str, Any]] = []

        def add(kind: str, **attrs: Any) -> None:
            rows.append(new_element(hashid(self.rng, self.taken), oid, len(rows) + 1, kind,
                                    when, **attrs))

        if self.rng.random() < 0.5:
            add("heading", name="Leistungen")
        percentage_at = items - 1 if items >= 3 and self.rng.random() < 0.25 else None
        for i in range(items):
            if i == percentage_at:
                add("subtotal", name="Zwischentotal")
                rate = self.rng.choice(list(VAT_RATES))
                add("percentage", name="Rabatt", amount=float(-self.rng.choice([5, 10])),
                    vat_rate=float(rate), vat_rate_id=VAT_RATES[rate])
                continue
            rate = self.rng.choice(["8.1", "8.1", "8.1", "2.6", "0.0"])
            product = self.rng.random() < 0.2
            discount = self.rng.random() < 0.15
            add("product" if product else "paragraph", name=self.rng.choice(_ITEMS),
                description=f"<p>{self.rng.choice(_WORDS)} für {self.rng.choice(_WORDS)}</p>",
                unit=self.rng.choice(_UNITS),
                quantity=float(self.rng.choice([1, 2, 3, 4, 8, 0.5, 1.5, 12])),
                amount=float(Decimal(self.rng.randint(5000, 250000)) / 100),
                vat_rate=float(rate), vat_rate_id=VAT_RATES[rate],
                product_id=hashid(self.rng, self.taken) if product else None,
                is_optional=self.rng.random() < 0.08,
                discount_type="percentage" if discount else None,
                discount_value=10.0 if discount else None)
            if self.rng.random() < 0.1:
                add("text", description="<p>Gemäss Besprechung.</p>")
        return rows


# ---- Laravel validation rules (seed 001 attribute tables, document element reference) -----
class Invalid(Exception):
    """A Laravel validation failure: field -> messages (answered as 422)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _label(field: str) -> str:
    return field.replace("_", " ")


def validate_offer(body: dict[str, Any], creating: bool, contacts: Container[str]) -> dict[str, Any]:
    """Laravel rules of seed 001's attribute table; returns the validated subset."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if creating and not body.get("contact_id"):
        fail("contact_id", "The contact id field is required.")
    for field in ("name", "description", "address", "header", "footer", "project_id",
                  "contact_id"):
        if field not in body:
            continue
        value = body[field]
        if value is not None and not isinstance(value, str):
            fail(field, f"The {_label(field)} field must be a string.")
        elif field == "name" and value is not None and len(value) > 255:
            fail(field, "The name field must not be greater than 255 characters.")
        elif field == "contact_id" and value not in contacts:
            fail(field, "The selected contact id is invalid.")
        elif field == "project_id" and value is not None:
            fail(field, "The selected project id is invalid.")
        else:
            out[field] = value
    for field in ("has_page_break_after_header", "has_page_break_before_footer"):
        if field in body:
            if not isinstance(body[field], bool):
                fail(field, f"The {_label(field)} field must be true or false.")
            else:
                out[field] = body[field]
    for field in LIFECYCLE_KEYS:
        if field in body:
            try:
                out[field] = parse_date(body[field])
            except ValueError:
                fail(field, f"The {_label(field)} field must be a valid date.")
    if out.get("approved_at") and out.get("rejected_at"):
        fail("rejected_at", "The rejected at field is prohibited when approved at is present.")
    if "custom_fields" in body:
        if body["custom_fields"] is not None and not isinstance(body["custom_fields"], dict):
            fail("custom_fields", "The custom fields field must be an array.")
        else:
            out["custom_fields"] = body["custom_fields"] or {}
    if errors:
        raise Invalid(errors)
    return out


def validate_element(
    body: dict[str, Any], creating: bool, document_exists: Callable[[str], bool]
) -> dict[str, Any]:
    """The element fields of a valid body; `Invalid`, with each field's errors, otherwise."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for field in ("document_type", "document_id", "name", "type"):
        if creating and not body.get(field):
            fail(field, f"The {_label(field)} field is required.")
    if "document_type" in body and body["document_type"] not in (OFFER_TYPE, INVOICE_TYPE):
        fail("document_type", "The selected document type is invalid.")
    if "document_id" in body and not document_exists(str(body["document_id"])):
        fail("document_id", "The selected document id is invalid.")
    if "type" in body and body["type"] not in ELEMENT_TYPES:
        fail("type", "The selected type is invalid.")
    for field in ("name", "description", "remark", "unit"):
        if field in body and body[field] is not None and not isinstance(body[field], str):
            fail(field, f"The {_label(field)} field must be a string.")
    for field in ("quantity", "amount", "discount_value"):
        value = body.get(field)
        if value is not None and (isinstance(value, bool) or type(value) not in (int, float)):
            fail(field, f"The {_label(field)} field must be a number.")
    for field in ("is_optional", "is_external", "is_excluded_from_budget"):
        if field in body and not isinstance(body[field], bool):
            fail(field, f"The {_label(field)} field must be true or false.")
    if body.get("discount_type") not in (None, "percentage", "amount"):
        fail("discount_type", "The selected discount type is invalid.")
    if body.get("vat_rate_id") not in (None, *VAT_RATES.values()):
        fail("vat_rate_id", "The selected vat rate id is invalid.")
    if errors:
        raise Invalid(errors)
    keys = ("document_type", "document_id", "name", "description", "remark", "type", "unit",
            "quantity", "amount", "vat_rate_id", "tag_id", "is_external",
            "is_excluded_from_budget", "is_optional", "discount_type", "discount_value",
            "product_id", "page_break", "revenue_account_no")
    out = {k: body[k] for k in keys if k in body}
    for key in ("quantity", "amount", "discount_value"):
        if out.get(key) is not None:
            out[key] = float(out[key])
    if "vat_rate_id" in out:
        rate = next((r for r, i in VAT_RATES.items() if i == out["vat_rate_id"]), None)
        out["vat_rate"] = float(rate) if rate is not None else None
    return out


def validate_webhook(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    """The webhook fields of a valid body; `Invalid`, with each field's errors, otherwise."""
    errors: dict[str, list[str]] = {}
    if creating or "event" in body:
        if not body.get("event"):
            errors["event"] = ["The event field is required."]
        elif body["event"] not in WEBHOOK_EVENTS:
            errors["event"] = ["The selected event is invalid."]
    if creating or "url" in body:
        url = body.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if not url:
            errors["url"] = ["The url field is required."]
        elif parts is None or not parts.hostname or not (
            parts.scheme == "https"
            or (parts.scheme == "http" and is_loopback_host(parts.hostname))
        ):
            errors["url"] = ["The url field must start with one of the following: https://."]
    if errors:
        raise Invalid(errors)
    return {k: body[k] for k in ("event", "url") if k in body}

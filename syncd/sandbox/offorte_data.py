"""Offorte sandbox data: a deterministic generator and the two dialects' renderings.

The store keeps one neutral record per object (numbers as Decimal strings, times as epoch
seconds); `render_*` turn it into what Offorte v1 or v2 sends, quirks included: v1 money as
display strings ("$1,234.56") with a numeric `price_total_original`, "15 jun 2018 (06:49)"
and "2020-06-15 18:05:59" dates, `false` for missing ids, deprecated fields (total_price,
proposal_status, pages_total, row `count`...); v2 ISO dates with microseconds, locale money
("€ 1000,00", "€45,521.00"), `price_total_original` as a string, boolean discount types.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

STATUSES = ("edit", "open", "won", "lost", "closed")
PRICETABLE = "pricetable1"  # the template's price table "Unique ID"
SEED_START = 1_672_531_200  # 2023-01-01, so seeded times do not depend on the clock
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_FIRST = ("Chuck", "Ada", "Linus", "Grace", "Joan", "Ravi", "Mila", "Sven", "Noor", "Tess")
_LAST = ("Norris", "Lovelace", "de Vries", "Hopper", "Jansen", "Patel", "Smit", "Bakker")
_CITIES = (("Breda", "Noord-Brabant"), ("Utrecht", "Utrecht"), ("Gent", "Oost-Vlaanderen"))
_PRODUCTS = ("Product Awesome", "Consulting hour", "Window frame", "Triple glass",
             "Installation", "Support plan", "Hinge set", "Paint job")


# ---- formats --------------------------------------------------------------------------------
def v1_date(ts: float | None) -> str | None:
    """"15 jun 2018 (06:49)": minute resolution, no zone (UTC)."""
    if ts is None:
        return None
    d = datetime.fromtimestamp(ts, tz=UTC)
    return f"{d.day:02d} {_MONTHS[d.month - 1]} {d.year} ({d.hour:02d}:{d.minute:02d})"


def v1_stamp(ts: float | None) -> str | None:
    """"2020-06-15 18:05:59" (users, webhooks, legacy summary field)."""
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso(ts: float | None) -> str | None:
    """v2: "2024-03-22T08:26:46.000000Z"."""
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.000000Z")


def ordinal_day(ts: float) -> str:
    """v2 `recent_view`: "Sep 5th 2025"."""
    d = datetime.fromtimestamp(ts, tz=UTC)
    suffix = "th" if 10 <= d.day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10, "th")
    return f"{d.strftime('%b')} {d.day}{suffix} {d.year}"


def display_money(amount: Decimal, currency: str, language: str) -> str:
    """"$1,234.56" (USD), "€1,234.56" (EUR, en) or "€ 1234,56" (EUR, nl)."""
    if currency == "USD":
        return f"${amount:,.2f}"
    if language == "nl":
        return "€ " + f"{amount:.2f}".replace(".", ",")
    return f"€{amount:,.2f}"


def number(value: str | Decimal) -> int | float:
    """A stored decimal as the JSON number Offorte sends (ints stay ints)."""
    dec = Decimal(value)
    return int(dec) if dec == dec.to_integral_value() else float(dec)


def row_total(row: dict[str, Any]) -> Decimal:
    """What a price row adds to the proposal total (after its discount)."""
    if row.get("type") != "price":
        return Decimal(0)
    gross = Decimal(str(row["quantity"])) * Decimal(str(row["price"]))
    value = Decimal(str(row.get("discount_value") or 0))
    if row.get("discount_type") == "percentage":
        return gross - gross * value / 100
    if row.get("discount_type") == "amount":
        return gross - value
    return gross


def proposal_total(proposal: dict[str, Any]) -> Decimal:
    """A proposal's total from its price rows, for the proposals that store none."""
    total = sum((row_total(r) for t in proposal["pricetables"] for r in t["rows"]), Decimal(0))
    return total.quantize(Decimal("0.01"))


# ---- generator --------------------------------------------------------------------------------
def _row_id(rng: random.Random, next_id: Any) -> int | str | None:
    pick = rng.random()
    if pick < 0.1:
        return None  # real payloads have rows (and tables) without ids
    if pick < 0.4:
        return f"tr{rng.getrandbits(52):013x}"
    if pick < 0.6:
        return f"o-{uuid.UUID(int=rng.getrandbits(128))}"
    return int(next_id())


def price_row(rng: random.Random, row_id: int | str | None) -> dict[str, Any]:
    """A random price row, sometimes discounted."""
    qty = rng.choice((1, 1, 2, 3, 5, 10))
    price = Decimal(rng.randrange(500, 250_000)) / 100
    discount = rng.random()
    row: dict[str, Any] = {
        "id": row_id, "type": "price",
        "content": f"<p>{rng.choice(_PRODUCTS)}</p>" + (
            "<ul><li><p><em>incl. delivery</em></p></li></ul>" if rng.random() < 0.3 else ""),
        "quantity": qty, "price": number(price), "subtotal": number(qty * price),
        "vat_percentage": rng.choice((21, 21, 9, 0, None)),
        "discount_type": False, "discount_value": "",
        "product_id": rng.choice((False, 990, 991)), "sku": rng.choice(("", "2452345", "SKU-9")),
        "selectable": rng.choice((False, False, "check", "radio")), "user_selected": True,
        "user_quantity": False, "recurring_type": rng.choice((False, "month")),
        "recurring_include_in_totals": True, "unique_id": None,
    }
    if discount < 0.15:
        row.update(discount_type="amount", discount_value=number(Decimal(rng.randrange(1, 40))))
    elif discount < 0.25:
        row.update(discount_type="percentage", discount_value=rng.choice((5, 10, 15)))
    return row


def layout_row(rng: random.Random, kind: str) -> dict[str, Any]:
    """Discount/subtotal/title rows: document layout, not line items."""
    row: dict[str, Any] = {"id": f"tr{rng.getrandbits(52):013x}", "type": kind,
                           "content": {"title": "<p>Options</p>", "subtotal": "<p>Subtotal</p>",
                                       "discount": "<p>Loyalty discount</p>"}[kind]}
    if kind == "discount":  # the sandbox applies no table-level discounts to totals
        row.update(discount_type="amount", discount_value=0)
    return row


def make_pricetables(rng: random.Random, max_items: int, next_id: Any) -> list[dict[str, Any]]:
    """A proposal's random price tables, the rows mostly in one table."""
    count = rng.randint(1, max(1, max_items))
    split = count if count < 3 or rng.random() < 0.8 else rng.randint(1, count - 1)
    tables = []
    for index, size in enumerate((split, count - split)):
        if size == 0:
            continue
        rows = [price_row(rng, _row_id(rng, next_id)) for _ in range(size)]
        if rng.random() < 0.2:
            rows.insert(0, layout_row(rng, "title"))
        if rng.random() < 0.2:
            rows.append(layout_row(rng, "subtotal"))
        if rng.random() < 0.1:
            rows.append(layout_row(rng, "discount"))
        tables.append({"id": PRICETABLE if index == 0 else None, "rows": rows,
                       "settings": {"vat_default_percentage": 21, "vat_hidden": False,
                                    "rows_include_vat": False}})
    return tables


def make_company(rng: random.Random, cid: int, created: float) -> dict[str, Any]:
    """A random Dutch company."""
    city, state = rng.choice(_CITIES)
    name = f"{rng.choice(_LAST)} {rng.choice(('Inc', 'BV', 'Group', 'Bouw'))} {cid}"
    return {
        "id": cid, "name": name, "street": f"Ginnekenweg {rng.randint(1, 200)}",
        "zipcode": f"{rng.randint(1000, 9999)}AA", "city": city, "state": state,
        "country": "the Netherlands", "phone": "+31 76 12344567", "fax": "",
        "email": f"info@c{cid}.example.com", "internet": rng.choice(("", f"https://c{cid}.example")),
        "linkedin": "", "facebook": "", "twitter": "", "instagram": "",
        "coc_number": rng.choice(("", f"{rng.randint(10_000_000, 99_999_999)}")),
        "vat_number": rng.choice(("", f"NL{rng.randint(100_000_000, 999_999_999)}B01")),
        "account_user_id": None, "created": created, "people": [],
    }


def make_person(rng: random.Random, pid: int, company_id: int, created: float) -> dict[str, Any]:
    """A random person of a company."""
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return {
        "id": pid, "company_id": company_id, "firstname": first, "lastname": last,
        "fullname": f"{first} {last}", "salutation": rng.choice(("Mr", "Ms", "")),
        "email": f"{first.lower()}.{pid}@example.com", "phone": "+31 76 12344567",
        "mobile": rng.choice(("", "+31 6 12345678")), "street": "", "zipcode": "", "city": "",
        "state": "", "country": "", "internet": "", "linkedin": "", "facebook": "",
        "twitter": "", "created": created,
    }


# ---- renderings ------------------------------------------------------------------------------
_COMPANY_KEYS = ("id", "name", "street", "zipcode", "city", "state", "country", "phone", "fax",
                 "email", "internet", "linkedin", "facebook", "twitter", "coc_number", "vat_number")
_PERSON_KEYS = ("id", "company_id", "firstname", "lastname", "fullname", "salutation", "street",
                "zipcode", "city", "state", "country", "phone", "mobile", "email", "internet",
                "linkedin", "facebook", "twitter")


def person_v1(person: dict[str, Any]) -> dict[str, Any]:
    """A person as v1 shows them."""
    return {k: person[k] for k in _PERSON_KEYS}


def person_v2(person: dict[str, Any], company: dict[str, Any] | None) -> dict[str, Any]:
    """A person as v2 shows them: a contact of type `person`, with their organisation."""
    body = {k: person[k] for k in _PERSON_KEYS if k != "company_id"}
    body.update(contact_id=company["id"] if company else False, type="person",
                organisation=company["name"] if company else "", account_user_id=False,
                account_user_name="", instagram="", fax="", tags=[],
                date_created=iso(person["created"]))
    return body


def company_v1(company: dict[str, Any], people: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A company as v1 shows it, with its people when the endpoint embeds them."""
    body = {k: company[k] for k in _COMPANY_KEYS}
    if people is not None:
        body["people"] = [person_v1(p) for p in people]
    return body


def company_v2(company: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
    """A company as v2 shows it: a contact of type `organisation`, with its proposal counts."""
    body = {k: company[k] for k in _COMPANY_KEYS}
    body.update(type="organisation", instagram="", account_user_id=company["account_user_id"]
                or False, account_user_name="", date_created=iso(company["created"]),
                proposals_open=counts.get("open", 0), proposals_won=counts.get("won", 0),
                tags=[])
    return body


def _rows(proposal: dict[str, Any], v2: bool) -> list[dict[str, Any]]:
    tables = []
    for table in proposal["pricetables"]:
        rows = []
        for stored in table["rows"]:
            row = {k: v for k, v in stored.items() if k != "overrides"}
            if v2:  # observed v2 shapes: string ids, boolean discount flags, "" values
                row["id"] = None if row.get("id") is None else str(row["id"])
                if row.get("discount_type") == "amount":
                    row["discount_type"] = True
                if isinstance(row.get("discount_value"), int | float):
                    row["discount_value"] = str(row["discount_value"])
                if "selectable" in row:
                    row["selectable"] = row["selectable"] not in (False, None)
            elif row.get("type") == "price":  # v1 deprecated row fields
                row.update(count=row["quantity"], userinput_count=False,
                           userinput_optional=False, userinput_optional_checked=False)
            row.update(stored.get("overrides", {}))  # sent as given (tests: other words)
            rows.append(row)
        tables.append({"id": table["id"], "subtotal": number(proposal_total(proposal)),
                       "total": number(proposal_total(proposal)), "settings": table["settings"],
                       "rows": rows, "vat": []})
    return tables


def proposal_list(p: dict[str, Any], company: dict[str, Any] | None, v2: bool) -> dict[str, Any]:
    """A proposal as the lists show it, with each version's field names and formats."""
    total = proposal_total(p) if p.get("total") is None else Decimal(p["total"])
    shown = display_money(total, p["currency"], p["language"])
    nr = int(p["proposal_nr"]) if v2 and p["proposal_nr"].isdigit() else p["proposal_nr"]
    body: dict[str, Any] = {
        "id": p["id"], "account_user_id": p["account_user_id"] or False,
        "name": p["name"], "status": p["status"], "price_total": shown,
        "proposal_nr": nr, "version_id": p["version_id"], "total_price": shown,
    }
    if v2:
        body.update(
            contact_id=company["id"] if company else False,
            contact_type="organisation" if company else None,
            contact_name=company["name"] if company else None,
            contact_person_fullname=None, directory_id=None, tags=[],
            date_created=iso(p["created"]), date_modified=iso(p["modified"]),
            date_viewed=iso(p["viewed_at"]), date_won=iso(p["won_at"]),
            total_price_override=None)
    else:
        body.update(company_id=company["id"] if company else False,
                    company_name=company["name"] if company else "",
                    price_total_original=number(total), price_total_override=number(total),
                    total_price_override=number(total), date_created=v1_date(p["created"]))
    body.update(p.get("overrides", {}))
    return body


def proposal_detail(p: dict[str, Any], company: dict[str, Any] | None,
                    people: list[dict[str, Any]], v2: bool) -> dict[str, Any]:
    """A proposal in detail, with its receivers and price tables, in each version's formats."""
    total = proposal_total(p) if p.get("total") is None else Decimal(p["total"])
    when = iso if v2 else v1_date
    receivers = [{"id": r["id"], "fullname": r["fullname"], "email": r["email"],
                  "pass": f"https://acme.offorte.com/viewer/{p['id']}/?proposalpass={r['id']}",
                  "signature_required": False if v2 else 1, "signature_allowed": 1}
                 for r in people]
    body: dict[str, Any] = {
        "id": p["id"], "account_user_id": p["account_user_id"] or False,
        "account_user_name": "Elon Musk", "account_user_email": "elon@example.com",
        "name": p["name"], "status": p["status"], "remarks": p["remarks"],
        "price_total": display_money(total, p["currency"], p["language"]),
        "date_modified": when(p["modified"]), "proposal_nr": p["proposal_nr"],
        "proposal_language": p["language"], "design_template_id": 1234,
        "text_template_id": 1234, "comments": [],
        "logs": {"summary": {"views": p["views"], "pdf": 0,
                             "recent_view": (ordinal_day(p["viewed_at"]) if v2 else
                                             v1_date(p["viewed_at"])) if p["viewed_at"] else None,
                             "last_modified_date": when(p["modified"]),
                             "last_modified_user": v1_stamp(p["modified"]) if not v2 else "Elon"},
                 "history": []},
        "emails": [{"id": e["id"], "date_sended": when(e["at"]), "proposal_version_nr": 1,
                    "message": "Dear {company_people_firstname}, ...", "sended_by": "Elon Musk",
                    "receivers": [{"fullname": r["fullname"], "email": r["email"]}
                                  for r in people]} for e in p["emails"]],
        "receivers": receivers, "content": {"pricetables": _rows(p, v2)},
    }
    if v2:
        person = people[0] if people else None
        contact: Any = (person_v2(person, company) if person else
                        company_v2(company, {}) if company else False)
        body.update(contact=contact, price_total_original=f"{total:.2f}",
                    price_total_override=None, date_created=iso(p["created"]),
                    date_viewed=iso(p["viewed_at"]), date_won=iso(p["won_at"]),
                    directory_id=None, tags=[], custom_fields=[], agree={"formfields": []})
    else:
        shown: dict[str, Any] = (company_v1(company, None) if company
                                 else {k: "" for k in _COMPANY_KEYS})
        if company is None:
            shown["id"] = False
        body.update(company=shown, price_total_original=number(total),
                    price_total_override=number(total), type="proposal", pages_total=4,
                    language=p["language"])
    body.update(p.get("overrides", {}))
    return body


def user(u: dict[str, Any], v2: bool) -> dict[str, Any]:
    """An account user, with the last login in each version's format."""
    body = {k: u[k] for k in ("id", "email", "firstname", "lastname", "phone", "jobtitle")}
    body["date_lastlogin"] = iso(u["last_login"]) if v2 else v1_stamp(u["last_login"])
    return body


def seed(sandbox: Any, rng: random.Random, companies: int, proposals: int,
         max_items: int) -> None:
    """Fill `sandbox.store`; the first three proposals are in `edit` (pushable content).

    Seeded times are whole minutes, so v1's minute-resolution dates and v2's ISO dates
    describe the same instants.
    """
    minute = 60
    users = sandbox.collection("users")
    for n in range(3):
        uid = sandbox.new_id()
        users[str(uid)] = {"id": uid, "email": f"user{n}@acme.example", "firstname": _FIRST[n],
                           "lastname": _LAST[n], "phone": "+31 76 12344567", "jobtitle": "Sales",
                           "last_login": SEED_START + rng.randrange(0, 400 * 24 * 60) * minute}
    store_companies, people = sandbox.collection("companies"), sandbox.collection("people")
    for n in range(companies):
        company = make_company(rng, sandbox.new_id(), SEED_START + n * 7 * 60 * minute)
        company["account_user_id"] = rng.choice([None, *(int(u) for u in users)])
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            person = make_person(rng, sandbox.new_id(), company["id"], company["created"])
            people[str(person["id"])] = person
            company["people"].append(person["id"])
        store_companies[str(company["id"])] = company
    pool = list(store_companies.values())
    store = sandbox.collection("proposals")
    for n in range(proposals):
        pid = sandbox.new_id()
        status = "edit" if n < 3 else rng.choices(STATUSES, weights=(3, 3, 2, 1, 1))[0]
        owner = None if (not pool or rng.random() < 0.05) else rng.choice(pool)
        contacts = owner["people"][: rng.choice((0, 1, 1, 2))] if owner else []
        created = SEED_START + rng.randrange(0, 300 * 24 * 60) * minute
        modified = created + rng.randrange(0, 30 * 24 * 60) * minute
        viewed = status != "edit" and rng.random() < 0.6
        currency = rng.choice(("USD", "USD", "EUR"))
        store[str(pid)] = {
            "id": pid, "name": f"Proposal {n + 1} for {owner['name'] if owner else 'walk-in'}",
            "status": status, "remarks": rng.choice(("", "Make some modifications as requested")),
            "currency": currency,
            "language": rng.choice(("en", "nl")) if currency == "EUR" else "en",
            "company_id": owner["id"] if owner else None, "contacts": list(contacts),
            "account_user_id": rng.choice([None, *(int(u) for u in users)]),
            "proposal_nr": str(2000 + n) if rng.random() < 0.8 else f"nr {n:06d}",
            "version_id": sandbox.new_id(), "created": created, "modified": modified,
            "viewed_at": created + 90 * minute if viewed else None,
            "views": rng.randint(1, 5) if viewed else 0,
            "won_at": modified if status == "won" else None,
            "emails": [] if status == "edit" else [{"id": sandbox.new_id(),
                                                    "at": created + 60 * minute}],
            "total": None, "pricetables": make_pricetables(rng, max_items, sandbox.new_id),
        }

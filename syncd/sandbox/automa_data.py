"""Deterministic Automa.Net data for the sandbox: buyers, quotes, RFQs, prices, log entries.

Shapes follow the seed (integration-api.automa.net Redoc): quotes are snake_case with money
and tax as decimal strings ("1234.50", "23.00"); RFQs are camelCase with `deliveryTime`
upper-cased in responses ("ANY", "NEXT_DAY") although requests take "Any" / "Next Day".
"""

from __future__ import annotations

import copy
import random
import re
import uuid as uuidlib
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CURRENCIES = ("PLN", "EUR", "USD", "GBP")
EVENT_TYPES = ("RFQ_RECEIVED", "RFQ_SENT", "QUOTE_ACCEPTED", "QUOTE_RECEIVED", "QUOTE_DECLINED",
               "QUOTE_EXPIRED", "QUOTE_OPENING_TRACKED", "ORDER_RECEIVED",
               "ORDER_PAYMENT_ASSIGNED", "PAYMENT_CREATED", "PAYMENT_STATUS_UPDATED")
BRANDS = ("Siemens", "Allen Bradley", "Schneider Electric", "Omron", "ABB", "Festo",
          "Mitsubishi", "Pilz", "SICK", "Phoenix Contact")
CONDITIONS = ("New", "New Surplus", "Used", "Refurbished")
PLACES = (("Warszawa", "00-950", "PL", 616), ("Kraków", "30-001", "PL", 616),
          ("Gdańsk", "80-001", "PL", 616), ("Berlin", "10115", "DE", 276),
          ("Praha", "110 00", "CZ", 203), ("Wien", "1010", "AT", 40))
FIRST = ("Anna", "Piotr", "Katarzyna", "Tomasz", "Magdalena", "Jan", "Ewa", "Marek")
LAST = ("Nowak", "Kowalski", "Wiśniewska", "Wójcik", "Kamińska", "Lewandowski", "Zieliński")
DELIVERY_OUT = ("ANY", "EMERGENCY", "NEXT_DAY", "2_3_DAYS", "4_6_DAYS", "7_10_DAYS",
                "10_PLUS_DAYS")
CENT = Decimal("0.01")


def new_uuid(rng: random.Random) -> str:
    """A UUID drawn from the seeded generator, so the same seed makes the same ids."""
    return str(uuidlib.UUID(int=rng.getrandbits(128), version=4))


def stamp(when: datetime) -> str:
    """Automa's timestamps: ISO 8601, milliseconds, Z."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def end_of_day(when: datetime) -> datetime:
    """23:59:59 UTC of `when`'s day: how a quote's expiry date is shown (see Put Quote)."""
    return when.astimezone(UTC).replace(hour=23, minute=59, second=59, microsecond=0)


def money(value: Decimal) -> str:
    """An amount as Automa.Net writes it: text with two decimals."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def amounts(nett: Decimal, tax: Decimal) -> dict[str, str]:
    """Net, gross and tax amounts as Automa.Net nests them."""
    return {"nett_amount": money(nett), "gross_amount": money(nett + tax),
            "tax_amount": money(tax)}


def catalog_price(mpn: str) -> Decimal:
    """The seller's price list, so a created draft gets prices like the real one does."""
    total = sum(ord(c) * (i + 1) for i, c in enumerate(mpn))
    return Decimal(40 + total % 2000) + Decimal(total % 100) / 100


# ---- parties ---------------------------------------------------------------------------------
def address(rng: random.Random, company_name: str, first: str, last: str) -> dict[str, Any]:
    """A random Central European address, with the company and person it is for."""
    city, post, code, country_id = rng.choice(PLACES)
    return {
        "city": city, "country": {"id": country_id, "code": code}, "post_code": post,
        "line1": f"ul. Przemysłowa {rng.randint(1, 200)}",
        "line2": rng.choice([None, f"hala {rng.randint(1, 9)}"]), "state": None,
        "company_name": company_name, "first_name": first, "last_name": last,
        "email": f"{first.lower()}.{rng.randint(1, 99)}@example.com",
        "phone": {"code": "+48", "number": str(rng.randint(500000000, 899999999))},
    }


def make_company(rng: random.Random, index: int) -> dict[str, Any]:
    """A buyer company as the seller's contractor, with its users under `_users`."""
    name = f"{rng.choice(('Techno', 'Auto', 'Elektro', 'Mech', 'Hydro'))}"
    name += f"{rng.choice(('pol', 'mat', 'serwis', 'tron'))} Sp. z o.o. {index + 1}"
    users = []
    for _ in range(rng.randint(1, 3)):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        users.append({"uuid": new_uuid(rng), "first_name": first, "last_name": last,
                      "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.com",
                      "phone": str(rng.randint(500000000, 899999999)), "phone_code": "+48"})
    billing = address(rng, name, users[0]["first_name"], users[0]["last_name"])
    return {
        "uuid": new_uuid(rng), "contractor_uuid": new_uuid(rng), "name": name,
        "number": str(rng.randint(100000000, 999999999)), "status": "active",
        "eu_vat": {"code": billing["country"]["code"],
                   "number": str(rng.randint(1000000000, 9999999999))},
        "billing_address": billing, "shipping_address": copy.deepcopy(billing), "_users": users,
    }


def make_seller(rng: random.Random) -> dict[str, Any]:
    """The sandbox account's own company and user, who sell every quote."""
    company = make_company(rng, 999)
    user = company.pop("_users")[0]
    company.pop("contractor_uuid")
    company.pop("name")
    company.pop("shipping_address")
    return {"company": company, "user": user}


def buyer_of(company: dict[str, Any], user: dict[str, Any] | None) -> dict[str, Any]:
    """The quote's `buyer`: the company without sandbox bookkeeping, and one of its users."""
    public = {k: copy.deepcopy(v) for k, v in company.items() if not k.startswith("_")}
    return {"type": "portal", "company": public, "user": copy.deepcopy(user)}


# ---- quotes ----------------------------------------------------------------------------------
def make_item(rng: random.Random, seller_uuid: str, currency: str) -> dict[str, Any]:
    """A random catalogue item for a quote, sometimes discounted."""
    brand = rng.choice(BRANDS)
    mpn = f"{rng.choice('ABCDEFGHJK')}{rng.randint(100, 9999)}-{rng.randint(10, 99)}"
    price = catalog_price(mpn)
    discount: dict[str, Any] = {"type": "none", "percentage": 0, "amount": "0.00"}
    if rng.random() < 0.2:
        discount = {"type": "percentage", "percentage": rng.choice((5, 10, 15)), "amount": None}
    condition = rng.choice(CONDITIONS)
    return {
        "uuid": new_uuid(rng),
        "offer": {
            "uuid": new_uuid(rng), "mpn": mpn,
            "condition": {"id": CONDITIONS.index(condition) + 1, "uuid": new_uuid(rng),
                          "name": condition, "original_name": condition},
            "brand": {"id": BRANDS.index(brand) + 1, "uuid": new_uuid(rng), "name": brand,
                      "original_name": brand.upper()},
            "lead_time": f"{rng.randint(1, 10)} days", "warranty": "12 months",
            "description": f"{brand} {mpn} module", "price": {"unit_nett_price": money(price),
                                                             "currency": currency},
            "weight": {"amount": rng.randint(1, 20) / 10, "unit": "kg"},
            "quantity": rng.randint(0, 50), "custom1": None, "custom2": None,
            "sku": f"SKU-{mpn}", "company_uuid": seller_uuid,
        },
        "required_delivery": None,
        "delivery_time": {"from": 1, "to": rng.randint(2, 10)},
        "ships_in": {"from": 1, "to": rng.randint(2, 5)},
        "quantity": rng.randint(1, 12), "unit_nett_price": money(price),
        "tax_rate": rng.choice(("23.00", "23.00", "8.00", "0.00")),
        "discount": discount, "note": None,
    }


def price_quote(quote: dict[str, Any]) -> None:
    """Recompute every item's total_price and the quote's totals (the vendor does this)."""
    reg_n = reg_t = fin_n = fin_t = Decimal(0)
    for item in quote["items"]:
        unit, rate = Decimal(item["unit_nett_price"]), Decimal(item["tax_rate"] or "0") / 100
        regular = (unit * Decimal(str(item["quantity"]))).quantize(CENT, ROUND_HALF_UP)
        discount = item.get("discount") or {"type": "none"}
        if discount["type"] == "percentage":
            cut = (regular * Decimal(str(discount.get("percentage") or 0)) / 100).quantize(
                CENT, ROUND_HALF_UP)
            discount["amount"] = money(cut)
        elif discount["type"] == "amount":
            cut = Decimal(discount.get("amount") or "0")
        else:
            cut = Decimal(0)
        final = regular - cut
        r_tax, f_tax = (regular * rate).quantize(CENT, ROUND_HALF_UP), (final * rate).quantize(
            CENT, ROUND_HALF_UP)
        item["total_price"] = {"regular": amounts(regular, r_tax), "final": amounts(final, f_tax)}
        reg_n, reg_t, fin_n, fin_t = reg_n + regular, reg_t + r_tax, fin_n + final, fin_t + f_tax
    cost_n = cost_t = Decimal(0)
    for cost in quote["additional_costs"]:
        nett = Decimal(cost["nett_price"])
        tax = (nett * Decimal(cost["tax_rate"] or "0") / 100).quantize(CENT, ROUND_HALF_UP)
        cost["price"] = amounts(nett, tax)
        cost_n, cost_t = cost_n + nett, cost_t + tax
    quote["totals"] = {
        "additional_costs_price": amounts(cost_n, cost_t),
        "items_price": {"regular": amounts(reg_n, reg_t), "final": amounts(fin_n, fin_t)},
        "grand_price": {"regular": amounts(reg_n + cost_n, reg_t + cost_t),
                        "final": amounts(fin_n + cost_n, fin_t + cost_t)},
    }


def make_quote(
    rng: random.Random, number: int, buyer: dict[str, Any], seller: dict[str, Any],
    created: datetime, status: str, max_items: int,
) -> dict[str, Any]:
    """A random quote with its items, costs, totals and status history."""
    currency = rng.choice(CURRENCIES)
    items = [make_item(rng, seller["company"]["uuid"], currency)
             for _ in range(rng.randint(1, max(1, max_items)))]
    costs = [{"name": "Shipping", "nett_price": money(Decimal(rng.randint(20, 90))),
              "tax_rate": "23.00"}] if rng.random() < 0.5 else []
    set_at = created + timedelta(hours=rng.randint(1, 72))
    quote: dict[str, Any] = {
        "uuid": new_uuid(rng), "number": f"Q/{created.year}/{number:05d}",
        "note": f"Quote for {buyer['company']['name']} #{number}", "currency": currency,
        "buyer": buyer, "seller": copy.deepcopy(seller), "additional_costs": costs,
        "status": {"name": status, "set_at": stamp(set_at if status != "draft" else created),
                   "set_by": seller["user"]["uuid"],
                   "reason": "Price too high" if status == "declined" else None},
        "items": items,
        "tracked_openings": [{"type": rng.choice(("portal", "email")),
                              "opened_at": stamp(set_at + timedelta(hours=2))}]
        if status != "draft" and rng.random() < 0.4 else [],
        "payment_term": {"uuid": new_uuid(rng),
                         "type": rng.choice(("pay_by_invoice", "advanced_payment"))},
        "created_by": {"type": "user"}, "created_at": stamp(created),
        "updated_at": stamp(set_at if status != "draft" else created),
        # an expiry is a date (Put Quote takes `string <date>`): the end of that day, UTC
        "expires_at": stamp(end_of_day(created + timedelta(days=30))),
        "reference_number": None,
    }
    price_quote(quote)
    return quote


# ---- RFQs ------------------------------------------------------------------------------------
def _camel_address(addr: dict[str, Any]) -> dict[str, Any]:
    return {"companyName": addr["company_name"], "city": addr["city"], "line1": addr["line1"],
            "line2": addr["line2"], "postCode": addr["post_code"], "state": addr["state"],
            "firstName": addr["first_name"], "lastName": addr["last_name"],
            "email": addr["email"], "country": dict(addr["country"]), "phone": dict(addr["phone"])}


def make_rfq(
    rng: random.Random, number: int, seller: dict[str, Any], buyer: dict[str, Any],
    placed: datetime,
) -> dict[str, Any]:
    """An RFQ in the list dialect (camelCase; deliveryTime upper-cased)."""
    company, user = seller["company"], seller["user"]
    billing = _camel_address(buyer["billing_address"])
    buyer_user = buyer["_users"][0]
    items = []
    for _ in range(rng.randint(1, 4)):
        brand, condition = rng.choice(BRANDS), rng.choice(CONDITIONS)
        items.append({
            "quantity": rng.randint(1, 20), "uuid": new_uuid(rng),
            "deliveryTime": rng.choice(DELIVERY_OUT),
            "offer": {"mpn": f"{rng.choice('LMNPRS')}{rng.randint(100, 9999)}",
                      "brand": {"name": brand, "originalName": brand.upper(),
                                "uuid": new_uuid(rng)},
                      "condition": {"name": condition, "originalName": condition,
                                    "uuid": new_uuid(rng)}},
        })
    return {
        "uuid": new_uuid(rng),
        "group": {"uuid": new_uuid(rng), "number": f"G/{number:05d}",
                  "referenceNumber": rng.choice([None, f"PO-{rng.randint(1000, 9999)}"]),
                  "ownerCompanyUuid": buyer["uuid"], "ownerUserId": rng.randint(1, 9999)},
        "declinedAt": stamp(placed + timedelta(days=1)) if rng.random() < 0.1 else None,
        "note": rng.choice([None, "Please quote urgently"]),
        "number": f"RFQ/{placed.year}/{number:05d}", "placedAt": stamp(placed),
        "seller": {
            "companyUuid": company["uuid"],
            "company": {"uuid": company["uuid"], "name": "Sandbox Automation S.A.",
                        "euVat": dict(company["eu_vat"]),
                        "profileAddress": {"uuid": new_uuid(rng),
                                           **_camel_address(company["billing_address"])}},
            "userUuid": user["uuid"],
            "user": {"uuid": user["uuid"], "firstName": user["first_name"],
                     "lastName": user["last_name"], "email": user["email"],
                     "jobTitle": "Sales", "mobile": {"code": "+48", "number": user["phone"]}},
        },
        "source": "automa_shop",
        "items": items,
        "buyer": {
            "user": {"firstName": buyer_user["first_name"], "lastName": buyer_user["last_name"],
                     "mobile": {"code": "+48", "number": buyer_user["phone"]}},
            "company": {"profileAddress": billing, "shippingAddress": dict(billing),
                        "billingAddress": dict(billing), "isVerified": rng.random() < 0.8},
        },
    }


# ---- call log --------------------------------------------------------------------------------
def clone(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, immutable scalars): what
    `copy.deepcopy` gives for it, several times faster (no memo; the call log's records are
    never changed in place, so shared sub-objects in the source would not matter).
    """
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _SCALARS else clone(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _SCALARS else clone(v) for v in value]
    if kind in _SCALARS:
        return value
    return copy.deepcopy(value)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def call_entry(
    rng: random.Random, subscription: dict[str, Any], payload: dict[str, Any], created: str,
    status: int, response_body: Any,
) -> dict[str, Any]:
    """One webhook call as `GET /webhooks/calls` lists it (seed shape)."""
    return {
        "uuid": new_uuid(rng), "webhookUuid": subscription["uuid"],
        "status": "SUCCESS" if 200 <= status < 300 else "FAILED",
        "eventObjectUuid": payload["objectUuid"], "eventObject": clone(payload["object"]),
        "result": {"requestBody": clone(payload), "responseBody": response_body,
                   "status": str(status), "url": subscription["url"]},
        "createdAt": created, "updatedAt": created,
    }


# ---- request validation (NestJS class-validator wording) ---------------------------------------
def is_decimal(value: Any) -> bool:
    """Whether a value is decimal text, as Automa.Net wants amounts."""
    if not isinstance(value, str):
        return False
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


def check_put(body: Any) -> list[str]:
    """The validation messages Automa.Net gives a PUT quote body, empty when it is valid."""
    if not isinstance(body, dict):
        return ["number should not be empty", "items should not be empty"]
    problems: list[str] = []
    number = body.get("number")
    if not isinstance(number, str) or not number:
        problems.append("number should not be empty")
    elif len(number) > 32:
        problems.append("number must be shorter than or equal to 32 characters")
    if body.get("note") is not None and (not isinstance(body["note"], str)
                                         or len(body["note"]) > 1024):
        problems.append("note must be shorter than or equal to 1024 characters")
    if body.get("currency") not in CURRENCIES:
        problems.append("currency must be one of the following values: PLN, EUR, USD, GBP")
    for key in ("buyer", "seller", "payment_term"):
        if not isinstance(body.get(key), dict) or not body[key]:
            problems.append(f"{key} should not be empty")
    if isinstance(body.get("buyer"), dict) and not isinstance(body["buyer"].get("company"), dict):
        problems.append("buyer.company should not be empty")
    costs = body.get("additional_costs")
    if not isinstance(costs, list):
        problems.append("additional_costs must be an array")
    elif len(costs) > 100:
        problems.append("additional_costs must contain no more than 100 elements")
    elif not all(isinstance(c, dict) and is_decimal(c.get("nett_price")) for c in costs):
        problems.append("additional_costs.nett_price must be a decimal string")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        problems.append("items should not be empty")
    else:
        problems += check_items(items)
    expires = body.get("expires_at")
    if not isinstance(expires, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}(T.*)?", expires):
        problems.append("expires_at must be a valid ISO 8601 date string")
    return problems


def check_items(items: list[Any]) -> list[str]:
    """The validation messages for a quote's items."""
    problems: list[str] = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("offer"), dict):
            problems.append(f"items.{n}.offer should not be empty")
            continue
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int | float) or quantity < 1:
            problems.append(f"items.{n}.quantity must not be less than 1")
        if not is_decimal(item.get("unit_nett_price")):
            problems.append(f"items.{n}.unit_nett_price must be a decimal string")
        if item.get("tax_rate") is not None and not is_decimal(item["tax_rate"]):
            problems.append(f"items.{n}.tax_rate must be a decimal string")
        discount = item.get("discount")
        if discount is not None and (not isinstance(discount, dict) or discount.get("type") not in
                                     ("none", "percentage", "amount")):
            problems.append(f"items.{n}.discount.type must be one of the following values: "
                            "none, percentage, amount")
    return problems


def check_create(body: dict[str, Any]) -> list[str]:
    """The validation messages Automa.Net gives a create quote body, empty when it is valid."""
    problems: list[str] = []
    ref = body.get("referenceNumber")
    if ref is not None and (not isinstance(ref, str) or len(ref) > 1024):
        problems.append("referenceNumber must be shorter than or equal to 1024 characters")
    if not isinstance(body.get("buyer"), dict):
        problems.append("buyer should not be empty")
    elif not body["buyer"].get("contractorUuid"):
        problems.append("buyer.contractorUuid should not be empty")
    items = body.get("items")
    if not isinstance(items, list):
        problems.append("items must be an array")
    else:
        for n, item in enumerate(items):
            offer = item.get("offer") if isinstance(item, dict) else None
            if not isinstance(offer, dict) or not offer.get("mpn"):
                problems.append(f"items.{n}.offer.mpn should not be empty")
            elif isinstance(item.get("quantity"), bool) or not isinstance(
                    item.get("quantity"), int | float) or item["quantity"] < 1:
                problems.append(f"items.{n}.quantity must not be less than 1")
    if body.get("note") is not None and (not isinstance(body["note"], str)
                                         or len(body["note"]) > 1024):
        problems.append("note must be shorter than or equal to 1024 characters")
    return problems


def check_webhook(body: Any) -> list[str]:
    """The validation messages Automa.Net gives a subscription, empty when it is valid."""
    if not isinstance(body, dict):
        return ["eventType should not be empty"]
    problems = []
    if body.get("eventType") not in EVENT_TYPES:
        problems.append("eventType must be one of the following values: " + ", ".join(EVENT_TYPES))
    url = body.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://", url) or len(url) > 1024:
        problems.append("url must be a URL address")
    auth = body.get("authorization")
    if not isinstance(auth, str) or not auth or len(auth) > 128:
        problems.append("authorization must be shorter than or equal to 128 characters")
    return problems

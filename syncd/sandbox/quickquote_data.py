"""Quick Quote's side of the data: shop custom fields, Shopify catalog, totals, JSON shape.

The sandbox keeps quotes in an internal form (money as `Decimal`, custom-field values by
field id) and renders them exactly as the vendor's JSON: capitalised status, flattened
discount fields, numeric (float) money, `created_on` without a zone, every shop custom
field listed with `value: null` when empty, Shopify ids beyond 2^53 as JSON integers.
An `_override` dict on a quote or a line item replaces keys of its rendered JSON (what
another build of the vendor says: tests of syncd's tolerance, `corrupt_one_record`).
Kept apart from the routes so the generator and the totals can be read on their own.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

STATUSES = ("Created", "Sent", "Viewed", "Accepted", "Declined", "Canceled", "Ordered")
EDITABLE = frozenset({"Created", "Sent", "Viewed"})
TAX_RATE = Decimal("0.10")
CENT = Decimal("0.01")
# Shopify line-item ids beyond 2^53 (odd, so no float can hold them): 9007199254740993, ...
FIRST_LINE_ITEM_ID = 2**53 + 1

# The shop's "Custom Form Fields" page: id -> definition.
CUSTOM_FIELDS: dict[int, dict[str, Any]] = {
    12121: {"name": "Company Name", "type": "text"},
    2569: {"name": "Address Line", "type": "text"},
    4767458: {"name": "Shipping Address", "type": "address"},
    7781: {"name": "Preferred Contact", "type": "dropdown", "options": ["Email", "Phone", "SMS"]},
    7790: {"name": "Delivery Date", "type": "date"},
    7791: {"name": "Budget", "type": "number"},
}
COMPANY_FIELD_ID = 12121
_ADDRESS_KEYS = ("line1", "city", "country", "postalOrZip")

_PRODUCTS = (
    ("Antique Drawers", ("5 Drawer", "3 Drawer"), "225.00"),
    ("Oak Dining Table", ("6 Seat", "8 Seat"), "899.00"),
    ("Linen Curtains", ("Sand", "Slate", "Ivory"), "64.50"),
    ("Brass Floor Lamp", ("Default Title",), "149.99"),
    ("Wool Rug", ("160x230", "200x300"), "310.00"),
    ("Velvet Armchair", ("Green", "Rust"), "479.00"),
)
_CUSTOM_TITLES = ("Custom engraving", "White-glove delivery", "Assembly service",
                  "Big Brown Bear Boots", "Fabric swatch set", "Extended warranty")
_FIRST = ("John", "Susan", "Maria", "Ahmed", "Li", "Emma", "Noah", "Olga", "Pieter", "Chloé")
_LAST = ("Smith", "Johnson", "García", "Khan", "Wang", "de Vries", "Müller", "Rossi", "Nowak")
_COMPANY_WORDS = ("Acme", "Northwind", "Blue Fern", "Harbor", "Juniper", "Copper Hill",
                  "Lumen", "Oakridge", "Pioneer", "Summit", "Willow", "Zenith")
_COMPANY_SUFFIX = ("Interiors", "Hotels", "Design Studio", "Retail", "& Co", "Group")


def catalog(rng: random.Random) -> dict[int, dict[str, Any]]:
    """Shopify variants the shop sells: variant_id -> product data (ids as Shopify's)."""
    variants: dict[int, dict[str, Any]] = {}
    for p_index, (title, variant_titles, price) in enumerate(_PRODUCTS):
        product_id = 6_523_000_000_000 + p_index * 7_919
        for v_index, variant_title in enumerate(variant_titles):
            variant_id = 44_120_000_000_000 + p_index * 1_000 + v_index
            variants[variant_id] = {
                "product_id": product_id, "title": title, "variant_title": variant_title,
                "price": Decimal(price), "sku": f"SKU-{p_index:02d}{v_index}",
                "grams": rng.choice((800, 1300, 5200, 24000)), "taxable": True,
                "image": f"https://cdn.shopify.com/s/files/1/0741/5951/products/p{p_index}.jpg",
            }
    # The variants named in the seed document's examples, so its requests work verbatim.
    for variant_id, title, variant_title in ((123123123123, "Antique Drawers", "5 Drawer"),
                                             (23452345234523, "Wool Rug", "160x230")):
        variants[variant_id] = {
            "product_id": 234523452345, "title": title, "variant_title": variant_title,
            "price": Decimal("225.00"), "sku": None, "grams": 1300, "taxable": False,
            "image": None,
        }
    return variants


# ---- custom fields: invalid values are silently removed ---------------------------------
def _valid_date(text: str) -> bool:
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    parts = (match.group(1), match.group(2), match.group(3)) if match else None
    if parts is None:
        match = re.fullmatch(r"(\d{2})-(\d{2})-(\d{4})", text)
        parts = (match.group(3), match.group(1), match.group(2)) if match else None
    if parts is None:
        return False
    try:
        date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return False
    return True


def custom_value(field_id: int, value: Any) -> Any:
    """The value the vendor keeps for a custom field: the input, or None when invalid/empty."""
    definition = CUSTOM_FIELDS[field_id]
    kind = definition["type"]
    if value in (None, "", {}, []):
        return None
    if kind == "text":
        return value if isinstance(value, str) else None
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return value if ok else None
    if kind == "date":
        return value if isinstance(value, str) and _valid_date(value) else None
    if kind == "dropdown":
        return value if value in definition["options"] else None
    if kind == "address":
        ok = isinstance(value, dict) and all(isinstance(value.get(k), str) for k in _ADDRESS_KEYS)
        return value if ok else None
    return None  # pragma: no cover - every defined type is handled above


def apply_custom_fields(stored: dict[int, Any], given: Any) -> None:
    """Merge `[{id, value}, ...]` into a quote's values; unknown ids are ignored."""
    for entry in given if isinstance(given, list) else []:
        if not isinstance(entry, dict):
            continue
        try:
            field_id = int(entry.get("id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if field_id in CUSTOM_FIELDS:
            stored[field_id] = custom_value(field_id, entry.get("value"))


# ---- totals and rendering ----------------------------------------------------------------
def _discount_total(discount: dict[str, Any] | None, base: Decimal) -> Decimal | None:
    if not discount:
        return None
    amount = Decimal(str(discount["discount_amount"]))
    if discount["discount_type"] == "percentage":
        return (base * amount / 100).quantize(CENT, ROUND_HALF_UP)
    return min(amount, base)


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def render_item(item: dict[str, Any]) -> dict[str, Any]:
    """One line item as the vendor returns it (with a test's `_override` keys on top)."""
    body = _plain_item(item)
    body.update(item.get("_override") or {})
    return body


def _plain_item(item: dict[str, Any]) -> dict[str, Any]:
    """One line item as the vendor computes it (the quote's totals are summed from these)."""
    line = item["price"] * item["quantity"]
    discount = item.get("discount")
    discount_total = _discount_total(discount, line)
    return {
        "barcode": item.get("barcode"),
        "custom_image_path": item.get("custom_image_path"),
        "custom_product": item["custom_product"],
        "discount_amount": discount and discount["discount_amount"],
        "discount_reason": discount and discount.get("discount_reason"),
        "discount_total": _money(discount_total),
        "discount_type": discount and discount["discount_type"],
        "grams": item.get("grams"),
        "id": item["id"],
        "image": item.get("image"),
        "item_properties": list(item.get("item_properties") or []),
        "line_price": _money(line),
        "original_line_price": _money(line),
        "product_id": item.get("product_id"),
        "quantity": item["quantity"],
        "requires_shipping": item.get("requires_shipping", True),
        "sku": item.get("sku"),
        "taxable": item.get("taxable", True),
        "title": item["title"],
        "total": _money(line - (discount_total or 0)),
        "url": item.get("url"),
        "variant_id": item.get("variant_id"),
        "variant_title": item.get("variant_title"),
    }


def render_quote(quote: dict[str, Any]) -> dict[str, Any]:
    """One quote as the vendor returns it (totals recomputed from the items)."""
    items = [_plain_item(i) for i in quote["line_items"]]
    subtotal = sum((Decimal(repr(i["total"])) for i in items), Decimal(0))
    taxable = sum((Decimal(repr(i["total"])) for i in items if i["taxable"]), Decimal(0))
    discount = quote.get("discount")
    discount_total = _discount_total(discount, subtotal)
    shipping = quote.get("shipping") or {}
    shipping_price = shipping.get("shipping_price")
    shipping_total = Decimal(str(shipping_price)) if shipping_price is not None else Decimal(0)
    tax = (taxable * TAX_RATE).quantize(CENT, ROUND_HALF_UP)
    total = subtotal - (discount_total or 0) + shipping_total + tax
    body = {
        "assignee": quote.get("assignee"),
        "created_on": quote["created_on"],
        "custom_fields": [
            {"id": fid, "name": d["name"], "value": quote["custom_fields"].get(fid)}
            for fid, d in CUSTOM_FIELDS.items()
        ],
        "customer_id": quote.get("customer_id"),
        "discount_amount": discount and discount["discount_amount"],
        "discount_reason": discount and discount.get("discount_reason"),
        "discount_total": _money(discount_total),
        "discount_type": discount and discount["discount_type"],
        "email": quote["email"],
        "first_name": quote["first_name"],
        "id": quote["id"],
        "internal_notes": quote.get("internal_notes"),
        "last_name": quote["last_name"],
        "line_items": [{**i, **extra} if (extra := item.get("_override")) else i
                       for i, item in zip(items, quote["line_items"], strict=True)],
        "phone": quote.get("phone"),
        "public_notes": quote.get("public_notes"),
        "quote_number": quote["quote_number"],
        "remarks": quote.get("remarks"),
        "shipping": {
            "shipping_handle": shipping.get("shipping_handle"),
            "shipping_name": shipping.get("shipping_name"),
            "shipping_price": shipping_price,
            "shipping_total": _money(shipping_total) if shipping_price is not None else 0,
        },
        "shopify_order_id": quote.get("shopify_order_id"),
        "shopify_order_number": quote.get("shopify_order_number"),
        "status": quote["status"],
        "subtotal": _money(subtotal),
        "tags": quote.get("tags"),
        "total": _money(total),
        "total_tax": _money(tax),
    }
    body.update(quote.get("_override") or {})  # corrupt_one_record, drift tests
    return body


def created_on(moment: datetime) -> str:
    """The vendor's zone-less timestamp: ISO, milliseconds with trailing zeros trimmed."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3].rstrip("0")
    return text.rstrip(".")


# ---- deterministic shop generator --------------------------------------------------------
def _company_names(rng: random.Random, count: int) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        name = f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_SUFFIX)}"
        name = name if name not in names else f"{name} {len(names) + 1}"
        names.append(name)
    return names


def _customers(rng: random.Random, companies: list[str], count: int) -> list[dict[str, Any]]:
    people = []
    for index in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        registered = rng.random() < 0.75
        people.append({
            "customer_id": 6_901_000_000_000 + index * 37 if registered else None,
            "first_name": first, "last_name": last,
            "email": f"{first}.{last}{index}@example.com".lower().replace(" ", ""),
            "phone": f"+1-555-{rng.randrange(1000, 9999)}" if rng.random() < 0.6 else None,
            "company": rng.choice(companies) if companies and rng.random() < 0.8 else None,
        })
    return people


def generate_quotes(
    rng: random.Random,
    variants: dict[int, dict[str, Any]],
    *,
    companies: int,
    proposals: int,
    max_items: int,
    quote_ids: list[int],
    line_ids: list[int],
) -> list[dict[str, Any]]:
    """`proposals` internal quotes; ids are taken from the given (pre-allocated) id lists."""
    people = _customers(rng, _company_names(rng, companies), max(3, companies * 2))
    variant_ids = sorted(variants)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    quotes = []
    for index in range(proposals):
        person = rng.choice(people)
        fields: dict[int, Any] = {fid: None for fid in CUSTOM_FIELDS}
        if person["company"]:
            spaced = person["company"].replace(" ", "  ") if rng.random() < 0.1 else None
            fields[COMPANY_FIELD_ID] = spaced or person["company"]
        if rng.random() < 0.3:
            fields[7790] = f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        items = []
        for _ in range(rng.randint(1, max(1, max_items))):
            if rng.random() < 0.7:
                vid = rng.choice(variant_ids)
                v = variants[vid]
                items.append({
                    "id": line_ids.pop(0), "custom_product": False, "variant_id": vid,
                    "product_id": v["product_id"], "title": v["title"],
                    "variant_title": v["variant_title"], "price": v["price"], "sku": v["sku"],
                    "grams": v["grams"], "taxable": v["taxable"], "image": v["image"],
                    "quantity": rng.randint(1, 5), "item_properties": [],
                })
            else:
                items.append({
                    "id": line_ids.pop(0), "custom_product": True,
                    "title": rng.choice(_CUSTOM_TITLES), "quantity": rng.randint(1, 3),
                    "price": Decimal(rng.randrange(500, 50000)) / 100,
                    "sku": None, "taxable": rng.random() < 0.5, "item_properties": [],
                })
        discount = None
        if rng.random() < 0.2:
            discount = rng.choice((
                {"discount_type": "percentage", "discount_amount": 10,
                 "discount_reason": "10% trade discount"},
                {"discount_type": "fixed_amount", "discount_amount": 25,
                 "discount_reason": "$25 off"},
            ))
        moment = start + timedelta(minutes=rng.randrange(0, 1_000_000),
                                   milliseconds=rng.randrange(0, 1000))
        quotes.append({
            "id": quote_ids[index], "quote_number": 1001 + index,
            "status": rng.choice(STATUSES),
            "email": person["email"], "first_name": person["first_name"],
            "last_name": person["last_name"], "phone": person["phone"],
            "customer_id": person["customer_id"],
            "assignee": rng.choice((None, {"assignee_id": 234234,
                                           "assignee_name": "Staff User"})),
            "created_on": created_on(moment), "custom_fields": fields,
            "internal_notes": f"Quote {1001 + index} for {person['last_name']}",
            "public_notes": None, "remarks": rng.choice((None, "Please line the drawers")),
            "tags": rng.choice((None, "priority", "priority, needs review")),
            "discount": discount,
            "shipping": ({"shipping_name": "Local Delivery", "shipping_price": 25.5,
                          "shipping_handle": "custom"} if rng.random() < 0.3 else None),
            "line_items": items,
        })
    return quotes

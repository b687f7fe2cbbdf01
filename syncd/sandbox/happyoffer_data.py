"""Deterministic Happyoffer data: companies with a child, offers, external offers, templates.

Shapes follow docs.my-online-offer.com (`/offers`) and seed 003 (`/external-offers`):

  * the token's company (20) has a child company (21) whose offers the lists include, and
    an unrelated company (30) whose offers they must never show;
  * most offers were made through the API and have an external offer (UUID id, integer
    `offer_id`, client, contact and `products` as an array of one object); the others were
    made in the dashboard and exist only in `/offers`;
  * a few dashboard offers are soft-deleted: still listed, with `deleted_at` set;
  * some articles are alternatives (`parent_article_number` set) and do not count in the
    offer's `total_price_once`.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

PARENT_COMPANY = "20"
CHILD_COMPANY = "21"
OTHER_COMPANY = "30"
COMPANIES: dict[str, dict[str, Any]] = {
    PARENT_COMPANY: {"id": PARENT_COMPANY, "name": "Zon & Laad B.V.", "parent_id": None},
    CHILD_COMPANY: {"id": CHILD_COMPANY, "name": "Zon & Laad Noord B.V.",
                    "parent_id": PARENT_COMPANY},
    OTHER_COMPANY: {"id": OTHER_COMPANY, "name": "Andere Offertes B.V.", "parent_id": None},
}
USER: dict[str, Any] = {"id": "10", "name": "Sync Bot", "email": "sync@zonenlaad.test",
        "password": "happy-sandbox-pw", "company_id": PARENT_COMPANY}
TEMPLATE_ID = "5001"
EXTERNAL_USER_TOKEN = "ext-user-5c1d9a"
EXTERNAL_COMPANY_TOKEN = "ext-company-77b0e2"
# Words Happyoffer returns in `offer_status` (docs: "active"; the app: the other four).
STATUSES = ("Not Yet Send", "active", "Opened", "Accepted", "Rejected")
EPOCH = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)

_FIRST = ("Emma", "Daan", "Sanne", "Lucas", "Julia", "Thijs", "Fleur", "Bram", "Noor", "Sem")
_LAST = ("de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder")
_CITIES = (("Utrecht", "3582 BR"), ("Zwolle", "8011 AB"), ("Groningen", "9711 LM"),
           ("Breda", "4811 XJ"), ("Delft", "2611 HS"))
_PRODUCTS = (("Laadpaal BlueBuilt", "LAADPAL"), ("Zonnepaneel 410 Wp", "ZON"),
             ("Omvormer 5 kW", "OMV"), ("Thuisbatterij 10 kWh", "BAT"),
             ("Warmtepomp hybride", "WP"), ("Installatie", "INST"))


def laravel_time(moment: datetime) -> str:
    """Laravel's default JSON date: `2024-01-08T09:00:00.000000Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def money(amount: Decimal) -> str:
    """An amount as Happyoffer writes it: text with two decimals."""
    return f"{amount.quantize(Decimal('0.01'))}"


def make_clients(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """External clients (our CRM's companies) with one or two contact people each."""
    clients = []
    for k in range(count):
        city, zip_code = rng.choice(_CITIES)
        name = f"{rng.choice(_LAST).title().replace(' ', '')} {rng.choice(('B.V.', 'VOF'))} {k}"
        contacts = []
        for c in range(rng.randint(1, 2)):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            contacts.append({
                "firstname": first, "lastname": last,
                "email": f"{first.lower()}.{c}{k}@client{k}.test",
                "title": rng.choice(("Mr.", "Mrs.", "Ms.", "Dr.", None)),
            })
        clients.append({
            "external_client_id": f"CRM-{1000 + k}", "happyoffer_client_id": str(3000 + k),
            "name": name, "address": f"Dorpsstraat {k + 1}", "zip": zip_code, "city": city,
            "contacts": contacts,
        })
    return clients


def make_articles(rng: random.Random, max_items: int) -> list[dict[str, Any]]:
    """1..max_items articles; about one in six is an alternative to an earlier one."""
    articles: list[dict[str, Any]] = []
    for j in range(rng.randint(1, max_items)):
        name, prefix = rng.choice(_PRODUCTS)
        mains = [a for a in articles if a["parent_article_number"] is None]
        parent = rng.choice(mains)["article_number"] if mains and rng.random() < 0.17 else None
        cents = rng.choice((0, 0, 0, 50, 95))
        price: int | float = rng.randint(40, 4000) if cents == 0 else float(
            f"{rng.randint(40, 4000)}.{cents:02d}")
        articles.append({
            "name": f"[Alternatief] - {name}" if parent else name,
            "category_id": rng.randint(1, 2),
            "price": price,
            "amount": rng.randint(1, 12),
            "extra_content": [],
            "3d_render": {"url": None, "name": None},
            "images": [],
            "documents": [],
            "order_column": j + 1,
            "article_number": f"{prefix}-{j + 1:03d}",
            "long_description": None,
            "short_description": f"{name}, geleverd en geplaatst.",
            "parent_article_number": parent,
            "child_article_number": None,
        })
    return articles


def total_once(products: Any) -> Decimal:
    """What Happyoffer shows as total_price_once: the non-alternative articles."""
    if isinstance(products, list):
        products = products[0] if products else {}
    total = Decimal(0)
    for art in (products or {}).get("articles") or []:
        if art.get("parent_article_number") in (None, ""):
            total += Decimal(str(art.get("price") or 0)) * Decimal(str(art.get("amount") or 0))
    return total


def offer_record(
    offer_id: int, company_id: str, client: dict[str, Any], contact: dict[str, Any],
    *, name: str, number: str, status: str, total: Decimal, created: datetime,
    manually_rejected: bool = False, expiration: str | None = None,
) -> dict[str, Any]:
    """One `/offers` entry, shaped like the docs example (relationships included)."""
    return {
        "id": str(offer_id),
        "attributes": {
            "user_id": USER["id"], "company_id": company_id, "name": name, "is_visible": True,
            "offer_status": status, "is_manually_rejected": manually_rejected,
            "offer_type": "offer", "language": "Dutch",
            "offer_date": created.strftime("%Y-%m-%d"), "offer_number": number,
            "email_subject": f"Uw offerte {number}", "characteristic": None,
            "total_price_once": money(total), "total_price_repeat": "0.00",
            "is_allowed_to_navigate": True, "expiration_date": expiration,
            "created_at": laravel_time(created), "updated_at": laravel_time(created),
            "deleted_at": None,
            "url": f"https://my-online-offer.com/offer/{offer_id}",
            "draft_url": f"https://my-online-offer.com/offer/{offer_id}/draft",
        },
        "relationships": {
            "notification": {"user_id": USER["id"], "offer_id": str(offer_id),
                             "is_push_notification": "1"},
            "client": {"id": client["happyoffer_client_id"], "company_name": client["name"],
                       "website_url": None, "email": None, "logo": None},
            "contact": {"firstname": contact["firstname"], "lastname": contact["lastname"],
                        "gender": None, "phone_number": None, "email": contact["email"]},
        },
    }


def external_record(
    ext_id: str, offer_id: int, company_id: str, client: dict[str, Any],
    contact: dict[str, Any], products: Any, external_id: str | None,
) -> dict[str, Any]:
    """One `/external-offers` entry (seed 003 attributes + products, metadata, urls)."""
    return {
        "id": ext_id,
        "attributes": {
            "offer_id": str(offer_id), "external_id": external_id, "company_id": company_id,
            "offer_template_id": TEMPLATE_ID,
            "external_client_id": client["external_client_id"],
            "client_name": client["name"], "contact_firstname": contact["firstname"],
            "contact_lastname": contact["lastname"], "contact_title": contact.get("title"),
            "contact_email": contact["email"],
            "offer_pdf_url": f"https://crm.example.com/pdf/{offer_id}.pdf",
            "external_user_token": EXTERNAL_USER_TOKEN,
            "external_company_token": EXTERNAL_COMPANY_TOKEN,
            "products": products,
            "metadata": '[{"variables": []}]',
            "draft_url": f"https://my-online-offer.com/offer/{offer_id}/draft",
            "live_url": f"https://my-online-offer.com/offer/{offer_id}",
        },
    }


def generate(
    *, companies: int, proposals: int, max_items: int, seed: int
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(offers by id, external offers by uuid): `proposals` visible offers (parent + child
    company) plus a few of an unrelated company. Offer 1 is always a live dashboard offer.
    """
    rng = random.Random(seed)
    clients = make_clients(rng, max(1, companies))
    offers: dict[str, dict[str, Any]] = {}
    externals: dict[str, dict[str, Any]] = {}
    hidden = max(2, proposals // 10)
    for i in range(proposals + hidden):
        offer_id = i + 1
        company = (OTHER_COMPANY if i >= proposals
                   else CHILD_COMPANY if rng.random() < 0.25 else PARENT_COMPANY)
        client = rng.choice(clients)
        contact = rng.choice(client["contacts"])
        dashboard = i == 0 or (i < proposals and rng.random() < 0.12)
        created = EPOCH + timedelta(days=i // 3, hours=rng.randint(0, 9), minutes=i % 60)
        status = rng.choice(STATUSES)
        products = [{
            "client": {"client_zip": client["zip"], "client_city": client["city"],
                       "client_name": client["name"], "client_address": client["address"],
                       "client_contact_full_name": f"{contact['firstname']} {contact['lastname']}"},
            "general": {"offer_number": f"HO-{offer_id:05d}", "customer_number": str(i),
                        "reference_number": f"REF-{offer_id}",
                        "offer_description": f"Offerte {client['name']}"},
            "categories": [{"id": 1, "name": "Zonnepanelen"}, {"id": 2, "name": "Laadpalen"}],
            "articles": make_articles(rng, max_items),
        }]
        total = (Decimal(rng.randint(100, 20000)) if dashboard else total_once(products))
        expiration = (created + timedelta(days=30)).strftime("%Y-%m-%d") if i % 4 else None
        offer = offer_record(
            offer_id, company, client, contact, name=f"Offerte {client['name']}",
            number=f"HO-{offer_id:05d}", status=status, total=total, created=created,
            manually_rejected=status == "Opened" and rng.random() < 0.1, expiration=expiration,
        )
        if dashboard and i > 0 and i < proposals and rng.random() < 0.35:
            offer["attributes"]["deleted_at"] = laravel_time(created + timedelta(days=3))
        offers[str(offer_id)] = offer
        if not dashboard:
            ext_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            externals[ext_id] = external_record(
                ext_id, offer_id, company, client, contact, products, f"crm-offer-{offer_id}")
    return offers, externals

"""Parsers for the vendors' odd money, date and id formats, all to exact types.

Money becomes `Decimal` from the first parse, times aware UTC `datetime`, ids `str`.
Every function raises `ValueError` on input it cannot read, so the caller can quarantine
the record instead of storing a guess.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
_CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "zł": "PLN", "CHF": "CHF"}
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2}) ([a-zA-Z]{3})[a-z]* (\d{4})(?: \((\d{1,2}):(\d{2})\))?$")
_RFC_2822 = re.compile(r"^[A-Za-z]{3}, \d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}")
_ORDINAL_DATE = re.compile(r"^([A-Za-z]{3})[a-z]* (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})$")


def parse_money(value: Any) -> Decimal | None:
    """Parse numbers and display strings: 999.99, "$999.99", "€ 1000,00", "€45,521.00".

    The last `.` or `,` followed by one or two digits is the decimal separator; every
    other separator groups thousands.
    """
    kind = type(value)
    if kind is float:  # JSON numbers: the common case, answered first
        return Decimal(repr(value))
    if kind is int or kind is Decimal:
        return Decimal(value)
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a money amount: {value!r}")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if not isinstance(value, str):
        raise ValueError(f"not a money amount: {value!r}")
    text = value.strip()
    for symbol in sorted(_CURRENCY_SYMBOLS, key=len, reverse=True):
        text = text.replace(symbol, "")
    text = re.sub(r"[A-Z]{3}", "", text).replace("\u00a0", "").replace(" ", "").replace("'", "")
    negative = text.startswith("-")
    text = text[1:] if text[:1] in ("-", "+") else text  # one sign at most
    if not text or not re.fullmatch(r"[0-9.,]+", text):
        raise ValueError(f"not a money amount: {value!r}")
    match = re.search(r"[.,](\d{1,2})$", text)
    grouped = text[: match.start()] if match else text
    if re.search(r"[.,]", grouped) and not re.fullmatch(r"\d{1,3}([.,]\d{3})*", grouped):
        raise ValueError(f"not a money amount (thousands groups): {value!r}")
    if match:
        whole = re.sub(r"[.,]", "", text[: match.start()])
        text = f"{whole or '0'}.{match.group(1)}"
    else:
        text = re.sub(r"[.,]", "", text)
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - regex guards this
        raise ValueError(f"not a money amount: {value!r}") from exc
    return -amount if negative else amount


def currency_of(value: Any) -> str | None:
    """The ISO currency implied by a display string's symbol, if any."""
    if not isinstance(value, str):
        return None
    for symbol, code in _CURRENCY_SYMBOLS.items():
        if symbol in value:
            return code
    found = re.search(r"\b([A-Z]{3})\b", value)
    return found.group(1) if found else None


def parse_decimal(value: Any) -> Decimal | None:
    """Plain numbers and decimal strings ("12.50", 3, 2.5) to Decimal; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc


def parse_datetime(value: Any) -> datetime | None:
    """Every date format the vendors use, to aware UTC.

    Handles ISO 8601 with or without zone/µs (zone-less means UTC), "2020-06-15 18:05:59",
    "15 jun 2018 (06:49)", "Sep 5th 2025", "2023-01-01", "2023/01/01", DD.MM.YYYY,
    MM-DD-YYYY, HTTP dates and unix seconds or ms (numbers, or digits as text).
    """
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10_000_000_000 else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    text = value.strip()
    match = _DAY_MONTH_YEAR.match(text)
    if match:
        day, mon, year, hour, minute = match.groups()
        month = _MONTHS.get(mon.lower())
        if month is None:
            raise ValueError(f"not a date: {value!r}")
        return datetime(int(year), month, int(day), int(hour or 0), int(minute or 0), tzinfo=UTC)
    match = _ORDINAL_DATE.match(text)
    if match:
        mon, day, year = match.groups()
        month = _MONTHS.get(mon.lower())
        if month is None:
            raise ValueError(f"not a date: {value!r}")
        return datetime(int(year), month, int(day), tzinfo=UTC)
    if re.fullmatch(r"\d{10}(\d{3})?(\.\d+)?", text):  # unix seconds or ms sent as text
        return parse_datetime(float(text))
    if re.fullmatch(r"\d{4}/\d{2}/\d{2}", text):
        return datetime.combine(date.fromisoformat(text.replace("/", "-")), datetime.min.time(),
                                tzinfo=UTC)
    if re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", text):  # day first, as every dotted format is
        day_s, month_s, year_s = text.split(".")
        return datetime(int(year_s), int(month_s), int(day_s), tzinfo=UTC)
    if _RFC_2822.match(text):  # "Fri, 22 Mar 2024 08:26:46 GMT" (HTTP dates)
        try:
            return parsedate_to_datetime(text).astimezone(UTC)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a date: {value!r}") from exc
    if re.fullmatch(r"\d{2}-\d{2}-\d{4}", text):
        month_s, day_s, year_s = text.split("-")
        return datetime(int(year_s), int(month_s), int(day_s), tzinfo=UTC)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    iso = text.replace("Z", "+00:00")
    # Python 3.11 accepts up to 6 fractional digits; trim longer fractions.
    iso = re.sub(r"(\.\d{6})\d+", r"\1", iso)
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError as exc:
        raise ValueError(f"not a date: {value!r}") from exc
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_id(value: Any) -> str | None:
    """Vendor ids as text; `False`, None and "" (Offorte's "no id") become None."""
    if value is None or value is False or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not an id: {value!r}")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def strip_html(value: Any) -> str | None:
    """Plain text of an HTML fragment (Offorte row content, StrawBlond descriptions)."""
    if value is None:
        return None
    text = re.sub(r"<br\s*/?>|</p>", "\n", str(value))
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("&nbsp;", " ").replace("&amp;", "&").replace("&lt;", "<")
    text = text.replace("&gt;", ">").replace("&quot;", '"').replace("&#39;", "'")
    return re.sub(r"\n{2,}", "\n", text).strip()

"""`syncd report` over a real backfill of the five sandboxes: the table, JSON and CSV forms
read the views and never add currencies, and the HTML page, opened in headless Chromium,
shows the numbers the views hold.

Chromium is Debian's `chromium` (`make test` installs it when apt can); without it the
browser test SKIPs and says why.
"""

from __future__ import annotations

import csv
import io
import shutil
import struct
import subprocess
import zlib
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from syncd.db.session import Database
from syncd.demo import serve_sandboxes, write_settings
from syncd.report_html import amount
from syncd.reporting import By, pipeline_rows, win_rate_rows
from tests.integration.test_cli import syncd

RPM = 10_000
CHROMIUM = shutil.which("chromium")
NO_CHROMIUM = ("SKIP: no `chromium` on PATH (make test installs Debian's chromium when apt "
               "can reach a mirror; apt was unreachable or this is not Debian)")


@pytest.fixture
def backfilled(tmp_path: Path, sqlite_url: str) -> Iterator[Path]:
    """A settings file over a complete backfill of all five sandboxes; Quick Quote and
    StrawBlond (no currency in their APIs) get one from the `currency` setting."""
    served = serve_sandboxes(proposals=12, rpm=RPM)
    accounts = []
    for vendor, (box, _app) in served.items():
        entry = {**box.account_entry(f"t-{vendor}"), "requests_per_minute": RPM}
        if vendor == "quickquote":
            entry["currency"] = "USD"
        accounts.append(entry)
    config = tmp_path / "settings.toml"
    write_settings(config, sqlite_url, accounts)
    done = syncd(config, "backfill")
    assert done.code == 0, done.out + done.err
    yield config
    for _box, app in served.values():
        app.server.should_exit = True
    for _box, app in served.values():
        app.thread.join(timeout=5)


def test_report_never_adds_currencies_and_shows_happyoffer_totals(
    backfilled: Path, sqlite_url: str
) -> None:
    by_account = syncd(backfilled, "report", "--by", "account", "--format", "json")
    assert by_account.code == 0, by_account.err
    rows = by_account.json()
    db = Database(sqlite_url)
    with db.begin() as conn:
        currencies = dict(conn.execute(text(
            "SELECT account, COUNT(DISTINCT COALESCE(currency, '')) FROM proposals "
            "WHERE deleted_at IS NULL GROUP BY account")).all())
    per_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        per_account[row["account"]].append(row)
    for account, lines in per_account.items():  # one line per currency the account uses
        assert len(lines) == len({r["currency"] for r in lines}) == currencies[account]
    assert currencies["t-automa"] > 1  # the roll-up really had currencies to keep apart
    (happy,) = per_account["t-happyoffer"]
    assert happy["total_basis"] == "net" and Decimal(happy["total"]) > 0
    assert happy["total_gross"] is None
    (quick,) = per_account["t-quickquote"]
    assert quick["currency"] == "USD"  # from the setting
    assert {r["currency"] for r in per_account["t-strawblond"]} == {None}  # none configured

    table = syncd(backfilled, "report", "--by", "account")
    assert table.code == 0, table.err
    (line,) = [ln for ln in table.out.splitlines() if "t-happyoffer" in ln]
    assert amount(happy["total"]) in line and "0.00" not in line.split()

    as_csv = syncd(backfilled, "report", "--by", "status", "--currency", "usd", "--format", "csv")
    assert as_csv.code == 0, as_csv.err
    parsed = list(csv.DictReader(io.StringIO(as_csv.out)))
    with db.begin() as conn:
        expected = pipeline_rows(conn, By.status, currency="USD")
    assert [(r["status"], r["currency"], int(r["proposals"]), r["total"]) for r in parsed] == [
        (r["status"], r["currency"], r["proposals"], r["total"]) for r in expected]

    full = syncd(backfilled, "report", "--format", "json")  # the pinned form keeps its keys
    assert all(set(r) >= {"account", "month", "status", "proposals", "total_gross", "currency"}
               for r in full.json())
    db.dispose()


# ---- the HTML page in a real browser --------------------------------------------------------
class Page(HTMLParser):
    """The cells of every table (by id) and the value labels of every chart (by svg id)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = defaultdict(list)
        self.labels: dict[str, dict[str, str]] = defaultdict(dict)
        self.tags: list[str] = []
        self._table: str | None = None
        self._svg: str | None = None
        self._label: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "table":
            self._table = found.get("id")
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag == "td" and self._table:
            self._cell = []
        elif tag == "svg":
            self._svg = found.get("id")
        elif tag == "text" and self._svg and found.get("class") == "total":
            self._label = found.get("data-group")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag == "td" and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "svg":
            self._svg = None
        elif tag == "text":
            self._label = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._label is not None and self._svg:
            self.labels[self._svg][self._label] = data.strip()


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG (no imaging library needed)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return size[0], size[1], zlib.decompress(idat)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_html_report_in_headless_chromium_shows_the_views_numbers(
    backfilled: Path, sqlite_url: str, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    made = syncd(backfilled, "report", "--html", str(page))
    assert made.code == 0, made.err
    source = page.read_text(encoding="utf-8")
    for fetched in ("<script", "src=", "href=", "@import", "url(", "@font-face", "<link"):
        assert fetched not in source, f"the page would fetch or run something: {fetched}"

    browser = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
               "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "report.png"
    subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1000,1800",
                    page.as_uri()], capture_output=True, timeout=120, check=True)
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1000, 1800)
    assert len(set(pixels)) > 16, "the screenshot is blank"  # bars in several colours

    dom = subprocess.run([*browser, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    shown = Page()
    shown.feed(dom)
    db = Database(sqlite_url)
    with db.begin() as conn:
        by_month_status = pipeline_rows(conn, By.month, By.status)
        by_month = pipeline_rows(conn, By.month)
        win_rate = win_rate_rows(conn)
    db.dispose()
    assert by_month_status and win_rate
    currencies = {r["currency"] for r in by_month_status}
    assert {"EUR", "USD", "PLN", "GBP", None} <= currencies
    for currency in currencies:
        slug = currency or "none"
        assert shown.tables[f"pipeline-{slug}"][1:] == [  # row 0: the header row
            [r["month"] or "-", r["status"], str(r["proposals"]), amount(r["total"]),
             r["total_basis"] or "-", amount(r["total_net"]), amount(r["total_gross"])]
            for r in by_month_status if r["currency"] == currency]
        assert shown.labels[f"pipeline-month-{slug}"] == {
            r["month"] or "-": amount(r["total"])
            for r in by_month if r["currency"] == currency}
    assert shown.tables["win-rate"][1:] == [
        [r["account"], r["month"] or "-", str(r["decided"]), str(r["accepted"]),
         f"{Decimal(r['rate']) * 100:.1f}%"] for r in win_rate]
    assert "script" not in shown.tags

"""`syncd report --html FILE`: one self-contained HTML page with inline SVG charts.

Nothing is fetched when the page opens: no script, no web font, no image, no stylesheet
link, so the file can be mailed or archived and still shows the same thing. The charts and
the tables beside them draw the same rows (`syncd.reporting.report_data`, which reads the
views), one section per currency, because totals of different currencies are never added.
Plain string building with `html.escape`: the page is small and its structure fixed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any

from syncd.canonical import ProposalStatus

NO_CURRENCY = "no currency"
STATUS_COLOURS = {
    "draft": "#9aa5b1", "sent": "#3e7cb1", "viewed": "#6fa8dc", "accepted": "#2e9e5b",
    "ordered": "#1b6e3c", "rejected": "#d9534f", "expired": "#e0a040", "canceled": "#7a5c99",
}
OTHER_COLOUR = "#555555"
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px;
       color: #1f2933; background: #ffffff; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; } h3 { font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #cbd2d9; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #52606d; font-size: 13px; }
svg { display: block; margin: 8px 0; } svg text { font-size: 11px; fill: #1f2933; }
"""


def amount(value: str | Decimal | None) -> str:
    """'1,234.50', or '-' for no amount (never 0.00 for a total the vendor did not give)."""
    return "-" if value is None else f"{Decimal(value):,.2f}"


def render(data: dict[str, Any], generated_at: datetime) -> str:
    """The whole page for `report_data`'s rows."""
    currencies = _currencies(data["by_month_status"])
    body = [f"<h1>syncd pipeline report</h1><p class=\"note\">Generated "
            f"{escape(generated_at.strftime('%Y-%m-%d %H:%M UTC'))} from the reporting views "
            "(docs/reporting.md). Totals are gross where the vendor gives gross, else net; "
            "the basis column says which.</p>"]
    for currency in currencies:
        body.append(_currency_section(data, currency))
    body.append(_win_rate_section(data["win_rate"], data["win_rate_accounts"]))
    body.append(_ageing_section(data["ageing"]))
    body.append(_products_section(data["top_products"]))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>syncd pipeline report</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _currencies(rows: Iterable[dict[str, Any]]) -> list[str | None]:
    found = {r["currency"] for r in rows}
    return sorted(c for c in found if c is not None) + ([None] if None in found else [])


def _label(currency: str | None) -> str:
    return currency or NO_CURRENCY


def _slug(currency: str | None) -> str:
    return currency or "none"


def _currency_section(data: dict[str, Any], currency: str | None) -> str:
    slug, label = _slug(currency), escape(_label(currency))
    rows = [r for r in data["by_month_status"] if r["currency"] == currency]
    by_status = [r for r in data["by_status"] if r["currency"] == currency]
    months = sorted({r["month"] or "-" for r in rows})
    groups = [(m, [(r["status"], _dec(r["total"])) for r in rows if (r["month"] or "-") == m])
              for m in months]
    priced = {r["month"] or "-" for r in rows if r["total"] is not None}
    parts = [f"<section id=\"currency-{slug}\"><h2>Pipeline in {label}</h2>"]
    if currency is None:
        parts.append("<p class=\"note\">Proposals whose vendor sends no currency: set "
                     "<code>currency</code> for their account in settings.toml.</p>")
    parts.append(f"<h3>By month and status</h3>"
                 f"{stacked_bars(groups, f'pipeline-month-{slug}', priced)}")
    parts.append(_table(f"pipeline-{slug}", ("month", "status", "proposals", "total", "basis",
                                             "net", "gross"),
                        [((r["month"] or "-"), r["status"], r["proposals"], amount(r["total"]),
                          r["total_basis"] or "-", amount(r["total_net"]),
                          amount(r["total_gross"])) for r in rows]))
    statuses = [(r["status"], None if r["total"] is None else Decimal(r["total"]))
                for r in by_status]
    parts.append(f"<h3>By status</h3>{horizontal_bars(statuses, f'pipeline-status-{slug}')}")
    by_account = [r for r in data["by_account"] if r["currency"] == currency]
    parts.append(_table(f"accounts-{slug}", ("account", "proposals", "total", "basis"),
                        [(r["account"], r["proposals"], amount(r["total"]),
                          r["total_basis"] or "-") for r in by_account]))
    parts.append("</section>")
    return "\n".join(parts)


def _dec(value: str | None) -> Decimal:
    return Decimal(value) if value is not None else Decimal(0)


def _win_rate_section(monthly: list[dict[str, Any]], per_account: list[dict[str, Any]]) -> str:
    bars = [(r["month"] or "-", Decimal(r["rate"]), f"{r['accepted']}/{r['decided']}")
            for r in monthly]
    return ("<section id=\"win-rate\"><h2>Win rate</h2><p class=\"note\">Accepted or ordered "
            "among decided proposals (accepted, ordered, rejected, expired), by month of "
            "decision.</p>" + rate_bars(bars, "win-rate-month")
            + _table("win-rate", ("account", "month", "decided", "accepted", "rate"),
                     [(r["account"], r["month"] or "-", r["decided"], r["accepted"],
                       _percent(Decimal(r["rate"]))) for r in per_account])
            + "</section>")


def _percent(rate: Decimal) -> str:
    return f"{rate * 100:.1f}%"


def _ageing_section(rows: list[dict[str, Any]]) -> str:
    return ("<section id=\"ageing\"><h2>Open proposals by days since sent</h2>"
            + _table("ageing", ("account", "currency", "days", "proposals", "total", "basis",
                                "oldest (days)"),
                     [(r["account"], _label(r["currency"]), r["bucket"], r["proposals"],
                       amount(r["total"]), r["total_basis"] or "-", r["oldest_days"])
                      for r in rows])
            + "</section>")


def _products_section(rows: list[dict[str, Any]]) -> str:
    return ("<section id=\"products\"><h2>Top products by net revenue</h2><p class=\"note\">"
            "Revenue: line items of accepted or ordered proposals; quoted: of all live "
            "proposals. Optional items are left out.</p>"
            + _table("products", ("currency", "rank", "sku", "product", "revenue (net)",
                                  "quoted (net)", "quantity"),
                     [(_label(r["currency"]), r["revenue_rank"], r["sku"] or "-",
                       r["name"] or "-", amount(r["revenue_net"]), amount(r["quoted_net"]),
                       amount(r["quantity"])) for r in rows])
            + "</section>")


def _table(table_id: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    lines = []
    for row in rows:
        cells = "".join(
            f"<td class=\"num\">{escape(str(c))}</td>" if _numeric(c)
            else f"<td>{escape(str(c))}</td>" for c in row)
        lines.append(f"<tr>{cells}</tr>")
    return (f"<table id=\"{escape(table_id)}\"><thead><tr>{head}</tr></thead><tbody>"
            + "".join(lines) + "</tbody></table>")


def _numeric(cell: Any) -> bool:
    text = str(cell)
    return isinstance(cell, int) or ((text[:1].isdigit() or text[:1] == "-") and text != "-")


# ---- charts ----------------------------------------------------------------------------------
WIDTH, HEIGHT, LEFT, TOP, BOTTOM = 720, 270, 70, 36, 44


def _colour(status: str) -> str:
    return STATUS_COLOURS.get(status, OTHER_COLOUR)


def stacked_bars(groups: Sequence[tuple[str, Sequence[tuple[str, Decimal]]]],
                 chart_id: str, priced: set[str]) -> str:
    """One bar per group (month), stacked by status, its total written above it ('-' for
    a group in `priced` none of whose proposals has a total: no amount is not 0.00).
    """
    if not groups:
        return "<p class=\"note\">No proposals.</p>"
    plot_w, plot_h = WIDTH - LEFT - 16, HEIGHT - TOP - BOTTOM
    top = max((sum((max(v, Decimal(0)) for _s, v in segs), Decimal(0)) for _g, segs in groups),
              default=Decimal(0)) or Decimal(1)
    slot = plot_w / len(groups)
    bar_w = min(48.0, slot * 0.7)
    shapes = [_axis(plot_h, amount(top))]
    for i, (name, segments) in enumerate(groups):
        x = LEFT + i * slot + (slot - bar_w) / 2
        y = float(TOP + plot_h)
        for status, value in _in_status_order(segments):
            h = float(max(value, Decimal(0)) / top) * plot_h
            y -= h
            shapes.append(f"<rect x=\"{x:.1f}\" y=\"{y:.1f}\" width=\"{bar_w:.1f}\" "
                          f"height=\"{h:.1f}\" fill=\"{_colour(status)}\"><title>"
                          f"{escape(name)} {escape(status)}: {amount(value)}</title></rect>")
        total = sum((v for _s, v in segments), Decimal(0)) if name in priced else None
        shapes.append(f"<text class=\"total\" data-group=\"{escape(name)}\" "
                      f"x=\"{x + bar_w / 2:.1f}\" y=\"{y - 4:.1f}\" text-anchor=\"middle\">"
                      f"{amount(total)}</text>")
        shapes.append(f"<text x=\"{x + bar_w / 2:.1f}\" y=\"{TOP + plot_h + 16}\" "
                      f"text-anchor=\"middle\">{escape(name)}</text>")
    statuses = sorted({s for _g, segs in groups for s, _v in segs}, key=_status_rank)
    shapes.append(_legend(statuses))
    return _svg(chart_id, shapes)


def _in_status_order(segments: Iterable[tuple[str, Decimal]]) -> list[tuple[str, Decimal]]:
    return sorted(segments, key=lambda s: _status_rank(s[0]))


def _status_rank(status: str) -> int:
    order = [str(s) for s in ProposalStatus]
    return order.index(status) if status in order else len(order)


def horizontal_bars(items: Sequence[tuple[str, Decimal | None]], chart_id: str) -> str:
    """One bar per status, its total at the end of the bar ('-' when none has a total)."""
    if not items:
        return ""
    ordered = sorted(items, key=lambda item: _status_rank(item[0]))
    top = max((max(v or Decimal(0), Decimal(0)) for _n, v in ordered),
              default=Decimal(0)) or Decimal(1)
    row_h, plot_w = 22, WIDTH - LEFT - 120
    shapes = []
    for i, (name, value) in enumerate(ordered):
        y = 8 + i * row_h
        w = float(max(value or Decimal(0), Decimal(0)) / top) * plot_w
        shapes.append(f"<text x=\"{LEFT - 6}\" y=\"{y + 14}\" text-anchor=\"end\">"
                      f"{escape(name)}</text>")
        shapes.append(f"<rect x=\"{LEFT}\" y=\"{y}\" width=\"{w:.1f}\" height=\"{row_h - 6}\" "
                      f"fill=\"{_colour(name)}\"><title>{escape(name)}: {amount(value)}</title>"
                      "</rect>")
        shapes.append(f"<text class=\"total\" data-group=\"{escape(name)}\" "
                      f"x=\"{LEFT + w + 6:.1f}\" y=\"{y + 14}\">{amount(value)}</text>")
    return _svg(chart_id, shapes, height=16 + len(ordered) * row_h)


def rate_bars(items: Sequence[tuple[str, Decimal, str]], chart_id: str) -> str:
    """Win rate per month, 0 to 100 %, with 'accepted/decided' under each bar."""
    if not items:
        return "<p class=\"note\">No decided proposals yet.</p>"
    plot_w, plot_h = WIDTH - LEFT - 16, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(items)
    bar_w = min(48.0, slot * 0.7)
    shapes = [_axis(plot_h, "100%")]
    for i, (month, rate, counts) in enumerate(items):
        x = LEFT + i * slot + (slot - bar_w) / 2
        h = float(rate) * plot_h
        y = TOP + plot_h - h
        shapes.append(f"<rect x=\"{x:.1f}\" y=\"{y:.1f}\" width=\"{bar_w:.1f}\" height=\"{h:.1f}\" "
                      f"fill=\"{STATUS_COLOURS['accepted']}\"><title>{escape(month)}: "
                      f"{_percent(rate)} ({escape(counts)})</title></rect>")
        shapes.append(f"<text class=\"total\" data-group=\"{escape(month)}\" "
                      f"x=\"{x + bar_w / 2:.1f}\" y=\"{y - 4:.1f}\" text-anchor=\"middle\">"
                      f"{_percent(rate)}</text>")
        shapes.append(f"<text x=\"{x + bar_w / 2:.1f}\" y=\"{TOP + plot_h + 16}\" "
                      f"text-anchor=\"middle\">{escape(month)}</text>")
        shapes.append(f"<text x=\"{x + bar_w / 2:.1f}\" y=\"{TOP + plot_h + 30}\" "
                      f"text-anchor=\"middle\">{escape(counts)}</text>")
    return _svg(chart_id, shapes)


def _axis(plot_h: int, top_label: str) -> str:
    bottom = TOP + plot_h
    return (f"<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\" stroke=\"#7b8794\"/>"
            f"<line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{WIDTH - 16}\" y2=\"{bottom}\" "
            f"stroke=\"#7b8794\"/>"
            f"<text x=\"{LEFT - 6}\" y=\"{TOP + 4}\" text-anchor=\"end\">{escape(top_label)}</text>"
            f"<text x=\"{LEFT - 6}\" y=\"{bottom}\" text-anchor=\"end\">0</text>")


def _legend(statuses: Sequence[str]) -> str:
    items = []
    for i, status in enumerate(statuses):
        x = LEFT + i * 86
        items.append(f"<rect x=\"{x}\" y=\"4\" width=\"10\" height=\"10\" "
                     f"fill=\"{_colour(status)}\"/><text x=\"{x + 14}\" y=\"13\">"
                     f"{escape(status)}</text>")
    return "".join(items)


def _svg(chart_id: str, shapes: Sequence[str], height: int = HEIGHT) -> str:
    return (f"<svg id=\"{escape(chart_id)}\" "
            f"width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" "
            f"role=\"img\">" + "".join(shapes) + "</svg>")

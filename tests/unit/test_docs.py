"""README's vendor table, status mapping and capability matrix are generated from the connectors."""

from __future__ import annotations

from pathlib import Path

from syncd.docs import BEGIN, END, render

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_tables_match_the_code() -> None:
    text = README.read_text(encoding="utf-8")
    block = text[text.index(BEGIN): text.index(END) + len(END)]
    assert block == render(), "run `python -m syncd.docs` to refresh README.md"


def test_every_vendor_maps_every_status_word_to_the_canonical_vocabulary() -> None:
    from syncd.canonical import ProposalStatus
    from syncd.vendors import connector_class, registered_vendors

    for vendor in registered_vendors():
        cls = connector_class(vendor)
        assert cls.status_map, vendor
        assert set(cls.status_map.values()) <= set(ProposalStatus)


def test_readme_vendor_table_matches_the_connectors() -> None:
    from syncd.docs import VENDORS_BEGIN, VENDORS_END, render_vendors

    text = README.read_text(encoding="utf-8")
    block = text[text.index(VENDORS_BEGIN): text.index(VENDORS_END) + len(VENDORS_END)]
    assert block == render_vendors(), "run `python -m syncd.docs` to refresh README.md"

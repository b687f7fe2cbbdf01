"""settings.example.toml and the README name every key each vendor reads, and the example
loads as it stands (its `${VARS}` set): what a user copies must work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from syncd.settings import load_settings
from syncd.vendors import connector_class, registered_vendors

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "settings.example.toml"
README = ROOT / "README.md"

# every key a connector reads, for any operation: its `[accounts.auth]` keys and its options
# model's entry keys (Offorte's `api_version`, Happyoffer's create keys): the README's
# "Settings each vendor needs" table and the example show each
VENDOR_KEYS = {
    "offorte": {"access_token", "refresh_token", "client_id", "client_secret", "oauth_url",
                "api_key", "api_version"},
    "strawblond": {"api_key"},
    "quickquote": {"api_key"},
    "happyoffer": {"token", "email", "password", "offer_template_id", "external_user_token",
                   "external_company_token", "offer_pdf_url"},
    "automa": {"api_key"},
}


def example_sections() -> dict[str, str]:
    """The example's text per vendor: every `[[accounts]]` block (commented ones too)."""
    sections: dict[str, str] = {}
    text = EXAMPLE.read_text(encoding="utf-8")
    for block in re.split(r"^#? ?\[\[accounts\]\]$", text, flags=re.MULTILINE)[1:]:
        vendor = re.search(r'vendor = "([a-z]+)"', block)
        assert vendor, block
        sections[vendor.group(1)] = sections.get(vendor.group(1), "") + block
    return sections


def test_the_example_loads_with_its_variables_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in set(re.findall(r"\$\{([A-Z_0-9]+)\}", EXAMPLE.read_text(encoding="utf-8"))):
        monkeypatch.setenv(var, f"value-of-{var.lower()}")
    loaded = load_settings(EXAMPLE)
    assert sorted({a.vendor for a in loaded.accounts}) == sorted(registered_vendors())


def test_the_example_and_the_readme_name_every_key_a_connector_reads() -> None:
    sections = example_sections()
    readme = README.read_text(encoding="utf-8")
    table = readme[readme.index("### Settings each vendor needs"):]
    table = table[:table.index("\n\n", table.index("| vendor |"))]
    for vendor, keys in VENDOR_KEYS.items():
        source = (ROOT / "syncd" / "vendors" / f"{vendor}.py").read_text(encoding="utf-8")
        read = set(re.findall(r'secret\("([a-z_]+)"', source))
        read |= set(connector_class(vendor).options_model.model_fields)
        assert read <= keys, f"{vendor} reads {read - keys}: document them"
        for key in keys:
            assert re.search(rf"^#? ?{key} = ", sections[vendor], re.MULTILINE), (vendor, key)
            assert f"`{key}`" in table or f"`{key} = " in table, (vendor, key)

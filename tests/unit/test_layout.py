"""tests/unit mirrors syncd/ (issue 15): `syncd/x/y.py` is unit-tested in `tests/unit/x/test_y.py`.

A package's own module is named like the package: `syncd/vendors/__init__.py` is
`syncd.vendors`, tested in `tests/unit/test_vendors.py`. A module with no mirrored test
file must say, below, where it is covered instead; a test file must name a module that
exists where it sits, so that a renamed or moved module takes its tests along. Read from
the file tree only (no import runs), like test_layers.py.
"""

from __future__ import annotations

from pathlib import Path

UNIT = Path(__file__).resolve().parent
PACKAGE = UNIT.parents[1] / "syncd"

# Modules with no file in tests/unit, each with where it is tested instead. An entry whose
# mirrored test file appears fails the test below: take it off the list then.
COVERED_ELSEWHERE: dict[str, str] = {
    # the package and its entry points
    "syncd": "the package marker only (`__version__`)",
    "syncd.__main__": "`python -m syncd`: every tests/integration/test_cli*.py test runs it",
    "syncd.cli": "Typer commands, driven end to end by tests/integration (test_cli*.py)",
    "syncd.engine.fetch": "the targeted fetch behind webhooks and verification: "
                          "tests/connectors/test_automa_snapshot.py, test_deletion_paths.py "
                          "(404 deletes), test_automa_drift.py (webhook fetches)",
    "syncd.engine.verify": "verification against the Automa sandbox, rows and requests "
                           "asserted: tests/connectors/test_automa_snapshot.py",
    "syncd.demo": "the demo setup behind `syncd sandbox`: tests/integration (test_cli.py, test_daemon.py, "
                 "test_cli_ops.py, test_report_html.py)",
    "syncd.report_html": "tests/integration/test_report_html.py opens the page in Chromium",
    # vocabularies and plumbing every other test goes through
    "syncd.canonical": "record models and vocabularies, asserted by every connector suite and "
                       "by engine/test_store.py, engine/test_deletes.py (DEPENDANTS)",
    "syncd.errors": "the error tree: each branch asserted where it is raised (http/test_client.py, "
                    "test_settings.py) and its exit codes by tests/integration/test_cli_ops.py",
    "syncd.clock": "FakeClock drives the budget, retry and lease tests; SystemClock every other run",
    "syncd.db": "an empty package marker",
    "syncd.db.tables": "the schema, read and written by every db test (db/test_bulk.py migrates it)",
    "syncd.engine": "an empty package marker",
    "syncd.engine.runtime": "wiring of db, clock and connectors that every engine test builds",
    "syncd.http": "an empty package marker",
    # the running daemon and its operations, which need processes and a served vendor
    "syncd.engine.daemon": "tests/integration/test_daemon.py runs `syncd run` workers",
    "syncd.engine.local_changes": "tests/integration/test_daemon.py (issue 16: a local edit "
                                  "reaches the vendor through NOTIFY / the change-log poll)",
    "syncd.engine.adopt": "tests/connectors/test_exactly_once.py (a create the vendor took "
                          "before a crash is adopted, not sent twice)",
    "syncd.engine.webhooks": "the connectors' webhook tests and tests/integration/"
                             "test_webhooks_register.py",
    "syncd.engine.metrics": "tests/integration/test_deploy.py and test_daemon.py read /metrics",
    "syncd.engine.status": "`syncd status`: tests/integration/test_cli.py; stale_view and "
                           "drift_report also in engine/test_pull.py, engine/test_remap.py",
    "syncd.engine.accounts": "record_vendors, its one function: test_reporting.py",
    # vendors and sandboxes: the standard connector suite runs every pair
    "syncd.vendors.base": "the connector contract: tests/connectors (standard and two-way suites)",
    "syncd.sandbox": "SANDBOXES, the registry: test_vendors.py",
    "syncd.sandbox.base": "record store, paging, 429s: tests/connectors/test_*_sandbox.py and "
                          "every suite that serves a sandbox",
    **{f"syncd.vendors.{v}": f"tests/connectors/test_{v}*.py and the standard suite"
       for v in ("automa", "happyoffer", "offorte", "quickquote", "strawblond")},
    **{f"syncd.sandbox.{v}{part}": f"the standard suite serves it; tests/connectors/test_{v}*.py"
       for v in ("automa", "happyoffer", "offorte", "quickquote", "strawblond")
       for part in ("", "_data")},
}

# Test files that name no module: they test the package as a whole or are kept as they are.
NOT_A_MIRROR: dict[str, str] = {
    "test_layers.py": "the import graph of the whole package",
    "test_layout.py": "this file: the layout of tests/unit",
    "engine/test_worker_id.py": "syncd.engine.push.worker_id, kept apart (issue 15 leaves it as is)",
}


def module_name(path: Path) -> str:
    """`syncd/x/y.py` -> `syncd.x.y`; `syncd/x/__init__.py` -> `syncd.x`."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> list[str]:
    return sorted(module_name(p) for p in PACKAGE.rglob("*.py"))


def mirror(module: str) -> Path:
    """Where `module`'s unit tests live: `syncd.x.y` -> tests/unit/x/test_y.py."""
    *package, name = module.split(".")[1:] or ["syncd"]
    return UNIT.joinpath(*package, f"test_{name}.py")


def test_every_module_has_its_mirrored_test_or_says_where_it_is_covered() -> None:
    missing = [m for m in modules() if not mirror(m).exists() and m not in COVERED_ELSEWHERE]
    assert not missing, f"no tests/unit file, no COVERED_ELSEWHERE entry: {missing}"


def test_the_allow_list_names_only_modules_without_a_mirrored_test() -> None:
    names = set(modules())
    assert not set(COVERED_ELSEWHERE) - names, "entries for modules that no longer exist"
    mirrored = [m for m in COVERED_ELSEWHERE if mirror(m).exists()]
    assert not mirrored, f"tested in tests/unit now, take them off COVERED_ELSEWHERE: {mirrored}"
    assert all(reason.strip() for reason in COVERED_ELSEWHERE.values())


def test_every_unit_test_file_names_a_module_where_it_sits() -> None:
    expected = {mirror(m) for m in modules()}
    strays = [str(p.relative_to(UNIT)) for p in sorted(UNIT.rglob("test_*.py"))
              if p not in expected and str(p.relative_to(UNIT)) not in NOT_A_MIRROR]
    assert not strays, f"test files naming no module at their place: {strays}"
    assert all((UNIT / name).exists() for name in NOT_A_MIRROR), "NOT_A_MIRROR names a missing file"


def test_every_test_directory_is_a_package() -> None:
    # same-named files (test_drift.py here and in sandbox/) import as distinct modules
    dirs = {p.parent for p in UNIT.rglob("test_*.py")}
    assert all((d / "__init__.py").exists() for d in dirs)

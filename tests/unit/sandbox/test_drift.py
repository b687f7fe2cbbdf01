"""The drift plan perturbs values, never identity or structure, and is reproducible."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.sandbox.drift import KINDS, DriftPlan, find_records

RECORD = {
    "id": 17, "uuid": "5b1c-77", "customer_id": "123", "status": "Accepted",
    "created_at": "2024-01-02T03:04:05.000000Z", "total": 12.5, "price": "3.10",
    "title": "Big Order", "flag": True, "nothing": None,
    "items": [{"id": "9007199254740993", "type": "price", "quantity": 2},
              {"id": 2, "type": "heading"}],
    "buyer": {"company": {"uuid": "c-1", "name": "Acme"}},
    "eventType": "QUOTE_RECEIVED",
}


def _containers(value: Any, path: str = "") -> dict[str, tuple[type, int]]:
    """Every list and object by path, with its type and (for lists) its length."""
    found: dict[str, tuple[type, int]] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, dict | list):
                found[path + key] = (type(inner), len(inner) if isinstance(inner, list) else 0)
                found.update(_containers(inner, f"{path}{key}."))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found.update(_containers(inner, f"{path}{index}."))
    return found


def _ids(value: Any, path: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("id", "uuid", "customer_id"):
                found[path + key] = str(inner)
            found.update(_ids(inner, f"{path}{key}."))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found.update(_ids(inner, f"{path}{index}."))
    return found


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**32), rate=st.sampled_from([0.2, 0.6, 1.0]),
       kinds=st.frozensets(st.sampled_from(KINDS), min_size=1))
def test_ids_keep_their_text_and_containers_stay(seed: int, rate: float,
                                                 kinds: frozenset[str]) -> None:
    record = copy.deepcopy(RECORD)
    DriftPlan(seed, rate, kinds).apply([record], frozenset({"eventType"}))
    assert _ids(record) == _ids(RECORD)
    assert record["eventType"] == "QUOTE_RECEIVED"
    after = _containers(record)
    for path, kind in _containers(RECORD).items():  # fields may be added, containers stay
        assert after.get(path) == kind, path


def test_the_same_seed_gives_the_same_answers() -> None:
    first, second = copy.deepcopy(RECORD), copy.deepcopy(RECORD)
    DriftPlan(5, 0.5).apply([first], frozenset())
    DriftPlan(5, 0.5).apply([second], frozenset())
    assert first == second and first != RECORD


def test_every_kind_is_applied_at_full_rate() -> None:
    plan = DriftPlan(1, 1.0)
    for _ in range(30):
        plan.apply([copy.deepcopy(RECORD)], frozenset())
    assert set(plan.applied) == set(KINDS)


def test_records_are_found_in_every_vendor_envelope() -> None:
    assert find_records([{"id": 1}, 2]) == [{"id": 1}]
    assert find_records({"total_records": 1, "next_page": "x", "data": [{"id": 1}]}) == [{"id": 1}]
    assert find_records({"data": {"items": [{"uuid": "u"}], "lastPage": 1}}) == [{"uuid": "u"}]
    assert find_records({"data": {"uuid": "u", "items": [{"uuid": "i"}]}}) == [
        {"uuid": "u", "items": [{"uuid": "i"}]}]
    assert find_records({"id": 3, "content": {"pricetables": []}}) == [
        {"id": 3, "content": {"pricetables": []}}]

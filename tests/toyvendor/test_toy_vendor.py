"""The sixth-vendor proof: the standard and two-way suites, unchanged, on the toy vendor.

The toy is registered from this test alone (one entry in each map, `registered()`); the
suites' own test functions run here with `vendor` = the toy.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connectors.test_standard_suite import (  # noqa: F401  (collected here again)
    test_a_bad_record_is_quarantined_and_the_run_goes_on,
    test_backfill_uses_exactly_the_lower_bound_and_no_429,
    test_canonical_rows_are_complete_with_unique_keys,
    test_second_pull_with_nothing_changed_fetches_only_lists_and_writes_nothing,
    test_stopped_backfill_resumes_without_refetching_more_than_one_page,
)
from tests.connectors.test_two_way_suite import *  # noqa: F403  (every test of the suite)
from tests.toyvendor import registered


@pytest.fixture
def vendor() -> Iterator[str]:
    """The toy vendor, in both maps for the test's duration."""
    with registered() as key:
        yield key

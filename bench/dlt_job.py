"""The dlt side of figure 7; runs in its own virtualenv (bench/.work/dlt-venv), not syncd's.

Two jobs, each printing one JSON line:

* `rest`: dlt's `rest_api` source over the Offorte sandbox (v1: companies, the five
  proposal lists by status, each proposal's details as a child resource, the users list)
  into SQLite, configured the way its documentation shows for a page-number API with
  bearer auth; write disposition `merge` on `id`, so a second run is an incremental one.
* `memory`: `pipeline.run` over recorded Quick Quote pages (quotes with nested line items)
  read from disk one page at a time, into SQLite.

This file imports dlt only; syncd is never imported here.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
from dlt.sources.rest_api import rest_api_source

STATUSES = ("edit", "open", "won", "lost", "closed")


def rest(base_url: str, token: str, db: str, work: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = [{"name": "companies", "endpoint": {"path": "companies"}},
                                       {"name": "users", "endpoint": {"path": "account/users/"}}]
    for status in STATUSES:
        resources.append({"name": f"proposals_{status}",
                          "endpoint": {"path": f"proposals/{status}"}})
        resources.append({
            "name": f"details_{status}",
            "endpoint": {"path": f"proposals/{{resources.proposals_{status}.id}}/details/"},
        })
    source = rest_api_source({
        "client": {
            "base_url": base_url.rstrip("/") + "/",
            "auth": {"type": "bearer", "token": token},
            "paginator": {"type": "page_number", "page_param": "page", "base_page": 1,
                          "total_path": None},
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": resources,
    })
    pipeline = dlt.pipeline(pipeline_name="offorte_bench", pipelines_dir=work,
                            destination=dlt.destinations.sqlalchemy(f"sqlite:///{db}"),
                            dataset_name="offorte")
    started = time.perf_counter()
    pipeline.run(source)
    return {"seconds": round(time.perf_counter() - started, 2)}


def pages(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.glob("*.json")):
        if path.name == "index.json":
            continue
        yield from json.loads(path.read_bytes())["data"]


def memory(folder: str, db: str, work: str) -> dict[str, Any]:
    quotes = list(pages(Path(folder)))  # "from memory": the pages are read before timing
    items = sum(len(q.get("line_items") or []) for q in quotes)
    pipeline = dlt.pipeline(pipeline_name="quotes_bench", pipelines_dir=work,
                            destination=dlt.destinations.sqlalchemy(f"sqlite:///{db}"),
                            dataset_name="quotes")
    started = time.perf_counter()
    pipeline.run(quotes, table_name="quotes", primary_key="id", write_disposition="merge")
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "line_items": items,
            "line_items_per_second": round(items / seconds),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("job", choices=("rest", "memory"))
    parser.add_argument("--base-url")
    parser.add_argument("--token")
    parser.add_argument("--pages")
    parser.add_argument("--db", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    if args.job == "rest":
        out = rest(args.base_url, args.token, args.db, args.work)
    else:
        out = memory(args.pages, args.db, args.work)
    print(json.dumps({"dlt": dlt.__version__, **out}))


if __name__ == "__main__":
    main()

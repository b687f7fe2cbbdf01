"""What every benchmark shares: the machine, peak RSS, mirror databases and runtimes."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import sys
import timeit
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from syncd.clock import Clock
from syncd.db.session import Database
from syncd.engine.runtime import Runtime
from syncd.settings import settings_from_dict

WORK = Path(__file__).resolve().parent / ".work"
PG_ADMIN = os.environ.get("SYNCD_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


PROBE = 'sum(range(1000))'


def python_speed_us() -> float:
    """Microseconds this interpreter takes for `sum(range(1000))` (best of 5, as
    `python -m timeit` reports it): shared machines of one type differ by 1.5× from day to
    day, and this number lets a reader scale one run's rates against another's."""
    timer = timeit.Timer(PROBE)
    loops, _ = timer.autorange()
    return round(min(timer.repeat(5, loops)) / loops * 1e6, 1)


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare figures: cores, Python, OS, Python's speed."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python_speed_us": python_speed_us(),
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kib / 1024, 1)


def sqlite_url(name: str) -> str:
    """A fresh, migrated SQLite mirror under bench/.work (removed first if it exists)."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{path}{suffix}")
    url = f"sqlite:///{path}"
    db = Database(url)
    db.upgrade()
    db.dispose()
    return url


def pg_available(admin: str = PG_ADMIN) -> bool:
    try:
        import psycopg

        with psycopg.connect(admin, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


@contextlib.contextmanager
def pg_database(tag: str, admin: str = PG_ADMIN) -> Iterator[str]:
    """A fresh, migrated `syncd_bench_<tag>_<x>` database, dropped afterwards."""
    import psycopg

    name = f"syncd_bench_{tag}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{admin.rsplit('/', 1)[0]}/{name}"
    try:
        db = Database(url)
        db.upgrade()
        db.dispose()
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_runtime(db_url: str, entry: dict[str, Any], clock: Clock,
                 transport_factory: Any = None) -> Runtime:
    """A runtime with one account, `acct`, described by a sandbox's settings entry."""
    settings = settings_from_dict({"database": {"url": db_url}, "accounts": [entry]})
    return Runtime(settings=settings, db=Database(db_url), clock=clock,
                   transport_factory=transport_factory)


def command(*args: str) -> str:
    """The command line that reproduces a figure, as a reader would type it."""
    return " ".join([".venv/bin/python", "-m", *args])


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

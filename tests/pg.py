"""Finding a PostgreSQL server for the tests, or starting a throwaway one.

Order: `SYNCD_TEST_PG_URL`; the machine's server on 127.0.0.1:5432 (trust auth); else a
throwaway cluster from the Debian binaries (`initdb` refuses root, so it runs as the
`postgres` user); else None, and PostgreSQL tests are skipped with a visible reason.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import subprocess
import tempfile
import uuid

import psycopg

from syncd.sandbox.base import free_port


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _binaries() -> str | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    found = shutil.which("initdb")
    return os.path.dirname(found) if found else None


def _throwaway_cluster() -> str | None:
    bindir = _binaries()
    if bindir is None:
        return None
    workdir = tempfile.mkdtemp(prefix="syncd-pg-")
    datadir = os.path.join(workdir, "data")  # initdb creates it, owned by whoever runs it
    port = free_port()
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        os.chmod(workdir, 0o777)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    try:
        subprocess.run([*as_postgres, f"{bindir}/initdb", "-D", datadir, "-U", "postgres",
                        "-A", "trust"], check=True, capture_output=True)
        subprocess.run([*as_postgres, f"{bindir}/pg_ctl", "-D", datadir, "-w", "-l",
                        f"{workdir}/log", "-o", f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1",
                        "start"], check=True, capture_output=True)
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None

    def _stop() -> None:
        subprocess.run([*as_postgres, f"{bindir}/pg_ctl", "-D", datadir, "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(_stop)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


_SERVER: list[str | None] = []


def server_url() -> str | None:
    """An admin URL of a PostgreSQL server, found or started once per test session."""
    if not _SERVER:
        url = os.environ.get("SYNCD_TEST_PG_URL")
        if url and _answers(url):
            _SERVER.append(url)
        elif _answers("postgresql://postgres@127.0.0.1:5432/test"):
            _SERVER.append("postgresql://postgres@127.0.0.1:5432/test")
        else:
            _SERVER.append(_throwaway_cluster())
    return _SERVER[0]


def fresh_database(admin_url: str) -> tuple[str, callable]:  # type: ignore[valid-type]
    """Create an empty database; returns its URL and a function that drops it."""
    name = f"syncd_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop

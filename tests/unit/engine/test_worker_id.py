"""The name a process puts on its outbox claims is its own, also in a forked process."""

from __future__ import annotations

import os

from syncd.engine.push import Pusher, worker_id


def test_a_process_forked_after_import_claims_under_its_own_name() -> None:
    """Found by the convergence soak: its syncd processes are forked from a server that
    imported syncd once, and a name fixed at import was every child's; a sync then took
    the claim a killed sibling left for its own and never resolved that in-doubt write."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports the name it would claim under, then exits at once
        os.write(write, worker_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 200).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child != worker_id()
    assert child.endswith(f":{pid}")


def test_a_pusher_without_a_worker_name_takes_this_process_name() -> None:
    assert Pusher(_Runtime(), _Account()).worker == worker_id()  # type: ignore[arg-type]


class _Runtime:
    db = None
    clock = None


class _Account:
    name = "acct"

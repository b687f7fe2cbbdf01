"""How the soak starts a `syncd` process: forked from a warm interpreter, or exec'd afresh.

Every soak step that runs syncd starts a new OS process that the soak may SIGKILL. Exec'ing
`python -m syncd` costs about a second of imports per process, which on two cores made a
10,000-step soak take hours. By default the process is instead forked from a
`multiprocessing` fork server that has imported `syncd.cli` once; the child chdirs, takes
the environment it is given, points fds 1 and 2 at the log files and runs the console entry
point `syncd.cli.main` with the arguments: the same code, its own pid, killable like any
process, exiting with the CLI's exit code. SYNCD_SOAK_SPAWN=exec runs the real
`python -m syncd` instead (slower; proves the forked processes are not kinder).
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from multiprocessing.context import ForkServerContext
from pathlib import Path

EXEC = os.environ.get("SYNCD_SOAK_SPAWN") == "exec"
_server: ForkServerContext | None = None


def _context() -> ForkServerContext:
    global _server
    if _server is None:
        os.environ.setdefault("COLUMNS", "200")  # read by Rich when syncd.cli is imported
        _server = multiprocessing.get_context("forkserver")
        _server.set_forkserver_preload(["syncd.cli", "syncd.engine.daemon", "tests.soak.launch"])
    return _server


def _entry(args: list[str], out: str, err: str, cwd: str, env: dict[str, str]) -> None:
    """The child: what the shell would set up before exec'ing `syncd ARGS`."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(target, fd)
        os.close(target)
    sys.argv = ["syncd", *args]
    from syncd.cli import main

    main()


class Launched:
    """One started syncd process, forked or exec'd, with `subprocess.Popen`'s verbs."""

    def __init__(self, args: list[str], out: Path, err: Path, cwd: Path,
                 env: dict[str, str], command: list[str]) -> None:
        self.popen: subprocess.Popen[bytes] | None = None
        self.process: multiprocessing.process.BaseProcess | None = None
        if EXEC:
            with open(out, "ab") as out_file, open(err, "ab") as err_file:
                self.popen = subprocess.Popen(command, stdout=out_file, stderr=err_file,
                                              env=env, cwd=cwd)
            self.pid = self.popen.pid
        else:
            self.process = _context().Process(
                target=_entry, args=(args, str(out), str(err), str(cwd), env), daemon=False)
            self.process.start()
            assert self.process.pid is not None
            self.pid = self.process.pid

    def poll(self) -> int | None:
        if self.popen is not None:
            return self.popen.poll()
        assert self.process is not None
        return self.process.exitcode

    def wait(self, timeout: float | None = None) -> int | None:
        if self.popen is not None:
            return self.popen.wait(timeout=timeout)
        assert self.process is not None
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise subprocess.TimeoutExpired("syncd", timeout or 0)
        return self.process.exitcode

    @property
    def returncode(self) -> int | None:
        return self.poll()

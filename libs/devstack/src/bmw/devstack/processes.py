"""A small supervisor for the child processes of the local stack.

Every child runs in its own process group (its own session, in fact), so a Ctrl-C in the terminal reaches
only the ``bmw`` command, which then stops the children in order: SIGTERM to each group, up to 10 seconds
of grace, then SIGKILL for whatever is left. On Linux each child also gets ``PR_SET_PDEATHSIG`` so that it is
told to stop even if the ``bmw`` process itself is killed with SIGKILL (this fires when the *thread* that
started the child exits, so start children from the main thread).

Output (stdout and stderr) of a child goes to ``<log_dir>/<name>.log``; failures quote its last lines.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

logger = logging.getLogger(__name__)

#: Seconds a process group gets between SIGTERM and SIGKILL.
DEFAULT_GRACE_SECONDS = 10.0

_PR_SET_PDEATHSIG = 1


class ProcessFailed(RuntimeError):
    """A child process exited when it should not have, or did not become ready in time.

    The message ends with the last lines of the child's log file.
    """

    def __init__(self, message: str, *, name: str, log_path: Path | None, returncode: int | None) -> None:
        super().__init__(message)
        self.name = name
        self.log_path = log_path
        self.returncode = returncode


def _death_signal_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks Linux to SIGTERM the child when its parent dies, or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        return None
    term = int(signal.SIGTERM)

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, term)

    return preexec


_PREEXEC = _death_signal_preexec()


def spawn(
    command: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in a new session (hence its own process group) with its output in ``log_path``.

    The log file is truncated. ``env`` replaces the environment entirely when given.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        # The child keeps its own copy of the descriptor; ours is closed when the block ends.
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            # Only calls prctl(2), which is async-signal-safe, so this is fine even with threads around.
            preexec_fn=_PREEXEC,
        )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a group we cannot signal is not ours
        return False
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def terminate_groups(
    processes: Sequence[subprocess.Popen[bytes]], grace_seconds: float = DEFAULT_GRACE_SECONDS
) -> None:
    """Stop each process and everything in its process group: SIGTERM, wait up to ``grace_seconds``, SIGKILL.

    Each process must lead its own group (see :func:`spawn`). All groups get SIGTERM at once, in the order
    given, and share one deadline. Returns when no member of any group is left.
    """
    groups = [p.pid for p in processes]
    for popen in processes:
        if popen.poll() is None or _group_alive(popen.pid):
            _signal_group(popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for popen in processes:
        remaining = max(0.0, deadline - time.monotonic())
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=remaining)
    # Group members other than the leader (e.g. workers it forked) are waited for briefly as well.
    while any(_group_alive(g) for g in groups) and time.monotonic() < deadline:
        time.sleep(0.05)
    for popen in processes:
        if popen.poll() is None or _group_alive(popen.pid):
            logger.warning("process %s did not stop within %.0f s; killing it", popen.pid, grace_seconds)
            _signal_group(popen.pid, signal.SIGKILL)
    for popen in processes:
        popen.wait()
    kill_deadline = time.monotonic() + 5.0
    while any(_group_alive(g) for g in groups) and time.monotonic() < kill_deadline:
        time.sleep(0.02)


def log_tail(path: Path | None, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file (decoded leniently), or a note that there is none."""
    if path is None or not path.exists():
        return "(no log output)"
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 64 * 1024))
        data = handle.read()
    text = data.decode("utf-8", errors="replace").rstrip("\n")
    if not text:
        return "(no log output)"
    return "\n".join(text.splitlines()[-lines:])


class ManagedProcess:
    """One supervised child process: its name, command, log file and process handle."""

    def __init__(self, name: str, command: Sequence[str], popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.name = name
        self.command = list(command)
        self.popen = popen
        self.log_path = log_path

    @property
    def pid(self) -> int:
        """Process id (also the process group id)."""
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """Exit code, or None while the process runs."""
        return self.popen.poll()

    @property
    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of this process's log."""
        return log_tail(self.log_path, lines)

    def _failure(self, reason: str) -> ProcessFailed:
        message = f"{self.name}: {reason}\n--- last lines of {self.log_path} ---\n{self.log_tail()}"
        return ProcessFailed(message, name=self.name, log_path=self.log_path, returncode=self.returncode)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit and return its code; on timeout raise :class:`ProcessFailed`."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise self._failure(f"still running after {timeout:.0f} s") from None

    def check_exit(self, timeout: float | None = None) -> None:
        """Wait for the process to exit and raise :class:`ProcessFailed` unless it exited with code 0."""
        code = self.wait(timeout)
        if code != 0:
            raise self._failure(f"`{' '.join(self.command)}` exited with code {code}")

    def wait_ready(self, url: str, timeout: float = 60.0, interval: float = 0.2) -> None:
        """Poll ``GET <url>/readyz`` until it answers 200.

        Raises :class:`ProcessFailed` (with the tail of the log) if the process exits first or ``timeout``
        seconds pass.
        """
        ready_url = url.rstrip("/") + "/readyz"
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while True:
                if not self.alive:
                    raise self._failure(f"exited with code {self.returncode} before {ready_url} answered 200")
                try:
                    response = client.get(ready_url)
                except httpx.HTTPError as error:
                    last = f"{type(error).__name__}: {error}"
                else:
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code} {response.text[:300]}"
                if time.monotonic() >= deadline:
                    raise self._failure(f"not ready after {timeout:.0f} s ({ready_url}: {last})")
                time.sleep(interval)


class Supervisor:
    """Starts named child processes and stops them all, leaving nothing behind.

    ``stop_all`` is also registered with :mod:`atexit` as a safety net; calling it twice is harmless.
    """

    def __init__(self, log_dir: Path, *, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> None:
        self.log_dir = log_dir
        self.grace_seconds = grace_seconds
        self._processes: list[ManagedProcess] = []
        self._atexit_registered = False

    @property
    def processes(self) -> list[ManagedProcess]:
        """The processes started so far (running or not), in start order."""
        return list(self._processes)

    def get(self, name: str) -> ManagedProcess:
        """The most recently started process called ``name``."""
        for process in reversed(self._processes):
            if process.name == name:
                return process
        raise KeyError(name)

    def start(
        self,
        name: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> ManagedProcess:
        """Start ``command`` as ``name`` in its own process group, logging to ``<log_dir>/<name>.log``."""
        if not self._atexit_registered:
            atexit.register(self.stop_all)
            self._atexit_registered = True
        log_path = self.log_dir / f"{name}.log"
        popen = spawn(command, log_path=log_path, env=env, cwd=cwd)
        process = ManagedProcess(name, command, popen, log_path)
        self._processes.append(process)
        logger.debug("started %s (pid %s): %s", name, process.pid, " ".join(command))
        return process

    def run(
        self,
        name: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 300.0,
    ) -> None:
        """Run a one-shot command to completion; raise :class:`ProcessFailed` unless it exits with code 0."""
        self.start(name, command, env=env, cwd=cwd).check_exit(timeout)

    def wait_ready(self, name: str, url: str, timeout: float = 60.0) -> None:
        """Wait until the process ``name`` answers 200 on ``<url>/readyz`` (see :meth:`ManagedProcess.wait_ready`)."""
        self.get(name).wait_ready(url, timeout)

    def dead(self) -> list[ManagedProcess]:
        """Processes that have exited (one-shot commands included)."""
        return [p for p in self._processes if not p.alive]

    def stop_all(self) -> None:
        """SIGTERM every process group (newest first), wait up to the grace period, then SIGKILL the rest."""
        processes = list(reversed(self._processes))
        if not processes:
            return
        terminate_groups([p.popen for p in processes], self.grace_seconds)
        self._processes.clear()

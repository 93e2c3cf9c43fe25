"""The child-process supervisor."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from bmw.devstack.infra import free_port
from bmw.devstack.processes import ProcessFailed, Supervisor


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_stop_all_leaves_nothing_behind(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs")
    sleeper = supervisor.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
    # A grandchild in the same process group must go too.
    parent = supervisor.start(
        "parent",
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
            " print(p.pid, flush=True); time.sleep(60)",
        ],
    )
    deadline = time.monotonic() + 10
    while not (tmp_path / "logs" / "parent.log").read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int((tmp_path / "logs" / "parent.log").read_text().split()[0])
    assert sleeper.alive and parent.alive and not gone(grandchild)
    assert os.getpgid(sleeper.pid) == sleeper.pid  # its own process group

    started = time.monotonic()
    supervisor.stop_all()
    assert time.monotonic() - started < 5
    assert gone(sleeper.pid) and gone(parent.pid) and gone(grandchild)
    assert supervisor.processes == []
    supervisor.stop_all()  # harmless twice


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path, grace_seconds=1.0)
    stubborn = supervisor.start(
        "stubborn",
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True);"
            " time.sleep(60)",
        ],
    )
    while "ready" not in (tmp_path / "stubborn.log").read_text():
        time.sleep(0.05)
    started = time.monotonic()
    supervisor.stop_all()
    assert 0.9 < time.monotonic() - started < 5
    assert gone(stubborn.pid)
    assert stubborn.returncode == -9


def test_wait_ready_polls_readyz(tmp_path: Path) -> None:
    port = free_port()
    server = (
        "import http.server, sys, time\n"
        "time.sleep(0.5)\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200 if self.path == '/readyz' else 404); self.end_headers()\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    )
    supervisor = Supervisor(tmp_path)
    try:
        supervisor.start("web", [sys.executable, "-c", server])
        supervisor.wait_ready("web", f"http://127.0.0.1:{port}", timeout=20)
    finally:
        supervisor.stop_all()


def test_wait_ready_fails_with_the_log_tail_when_the_process_dies(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    process = supervisor.start(
        "broken",
        [sys.executable, "-c", "import sys; print('settings error: INTAKE_DATABASE_URL is not set'); sys.exit(3)"],
    )
    with pytest.raises(ProcessFailed, match="INTAKE_DATABASE_URL is not set") as caught:
        process.wait_ready(f"http://127.0.0.1:{free_port()}", timeout=20)
    assert "exited with code 3" in str(caught.value)
    assert caught.value.returncode == 3
    supervisor.stop_all()


def test_wait_ready_times_out_with_the_log_tail(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    process = supervisor.start(
        "slow", [sys.executable, "-c", "print('still importing', flush=True); import time; time.sleep(60)"]
    )
    try:
        with pytest.raises(ProcessFailed, match=r"not ready after 1 s(.|\n)*still importing"):
            process.wait_ready(f"http://127.0.0.1:{free_port()}", timeout=1)
    finally:
        supervisor.stop_all()
    assert gone(process.pid)


def test_run_raises_with_the_log_tail_on_failure(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    supervisor.run("ok", [sys.executable, "-c", "print('migrated')"])
    with pytest.raises(ProcessFailed, match="alembic exploded"):
        supervisor.run("bad", [sys.executable, "-c", "raise SystemExit('alembic exploded')"])
    supervisor.stop_all()

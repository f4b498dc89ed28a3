"""The app served by a fresh ``streamlit run app.py`` on a free loopback port, and Chromium's
launch settings: shared by the dashboard benchmark, the load test and the browser tests."""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def app_env(**extra: str) -> dict[str, str]:
    """This process's environment for an app server or helper it starts: without the OpenAI
    settings (nothing it runs may reach, or bill, a real account), unbuffered output, and
    ``extra`` (e.g. ``EMBEDDING_WORKBENCH_CACHE_DIR``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningApp:
    url: str
    launched: float  # perf_counter() just before the process was started
    ready: float  # perf_counter() when it printed its URL
    log: list[str] = field(default_factory=list)
    pid: int = 0  # the server process (its memory, for the load test)


@contextlib.contextmanager
def streamlit_app(
    env: dict[str, str],
    *options: str,
    timeout_s: float = 60,
    echo: bool = False,
    cwd: Path = ROOT,
) -> Iterator[RunningApp]:
    """Start ``streamlit run app.py`` (headless, a free loopback port); yield it; stop it.

    ``options`` are more command-line settings, e.g. ``"--server.maxUploadSize", "1"``. Its
    output is read on until it stops (a full pipe would block it), kept in ``log`` and, with
    ``echo``, printed (pytest shows it when a test fails). ``cwd``: the checkout whose
    ``app.py`` is served.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        *options,
    ]  # fmt: skip
    launched = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        log = _wait_for_start(proc, time.monotonic() + timeout_s)
        ready = time.perf_counter()
        threading.Thread(target=_drain, args=(proc, log, echo), daemon=True).start()
        yield RunningApp(f"http://127.0.0.1:{port}", launched, ready, log, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_start(proc: subprocess.Popen, deadline: float) -> list[str]:
    """Read the server's output until it says it is serving (or exits, or time runs out).

    Raw ``os.read`` on the pipe: a buffered ``readline`` can hold lines the selector no longer
    reports as readable.
    """
    fd = proc.stdout.fileno()
    output = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=remaining):
                break
            chunk = os.read(fd, 65536)
            if not chunk:  # the process exited
                break
            output += chunk
            if b"URL:" in output:
                return output.decode(errors="replace").splitlines()
    proc.kill()
    tail = output.decode(errors="replace").splitlines()[-40:]
    raise RuntimeError("streamlit did not start:\n" + "\n".join(tail))


def _drain(proc: subprocess.Popen, log: list[str], echo: bool) -> None:
    fd = proc.stdout.fileno()
    while chunk := os.read(fd, 65536):
        for line in chunk.decode(errors="replace").splitlines():
            log.append(line)
            if echo:
                print(f"[streamlit] {line}")

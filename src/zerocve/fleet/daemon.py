"""``zerocve fleet serve``: cycles every interval, and at once when the webhook asks.

One process: the planner and a worker pool (``run_cycle``), a poll timer, and an HTTP
listener on loopback that takes ``POST /hooks/check`` with ``Authorization: Bearer TOKEN``.
Logs are JSON lines on stderr. SIGTERM (or SIGINT) stops it gracefully: no new step starts,
the steps running finish and are recorded, and a job left half way is parked in its
recorded state, which the next start takes up.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from zerocve.errors import UsageError, ZerocveError
from zerocve.fleet.config import Fleet
from zerocve.fleet.cycle import CycleReport, Runner, run_cycle
from zerocve.oci.registry import is_loopback

HOOK_PATH = "/hooks/check"
log = logging.getLogger("zerocve.fleet")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        return json.dumps(entry, ensure_ascii=False, default=str)


def structured_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def _event(message: str, **fields: Any) -> None:
    log.info(message, extra={"fields": fields})


def load_token(path: Path) -> str:
    """The webhook's bearer token from ``path``, created (random, mode 0600) when absent."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32) + "\n")
        token = path.read_text().strip()
    except OSError as e:
        raise UsageError(f"{path}: cannot read or create the webhook token: {e.strerror}") from e
    if len(token) < 16:
        raise UsageError(f"{path}: the webhook token is shorter than 16 characters")
    return token


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` on loopback (the webhook is not for the network); port 0 picks one."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {text!r}: give HOST:PORT, e.g. 127.0.0.1:8787")
    if not is_loopback(host):
        raise UsageError(f"--listen {text!r}: the webhook listens on loopback only")
    return host, int(port)


def hook_server(
    address: tuple[str, int], token: str, trigger: threading.Event
) -> ThreadingHTTPServer:
    """The webhook listener (not started): a valid POST sets ``trigger`` and answers 202."""
    expected = f"Bearer {token}".encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(min(length, 1 << 16))
            if self.path.split("?", 1)[0] != HOOK_PATH:
                self._answer(404, {"error": f"POST {HOOK_PATH} only"})
                return
            given = (self.headers.get("Authorization") or "").encode()
            if not hmac.compare_digest(given, expected):
                _event("webhook refused", status=401, client=self.client_address[0])
                self._answer(401, {"error": "missing or wrong bearer token"})
                return
            trigger.set()
            _event("webhook: check requested")
            self._answer(202, {"queued": True})

        def do_GET(self) -> None:  # noqa: N802
            self._answer(405, {"error": f"POST {HOOK_PATH}"})

    server = ThreadingHTTPServer(address, Handler)
    server.daemon_threads = True
    return server


def _summary(report: CycleReport) -> dict[str, Any]:
    return {
        "planned": [p.image for p in report.planned],
        "jobs": {f"{o.image}#{o.job_id}": str(o.state) for o in report.outcomes},
        "errors": list(report.errors),
        "warnings": list(report.warnings),
    }


def serve(
    runner: Runner,
    load: Callable[[], Fleet],
    *,
    listen: tuple[str, int],
    token: str,
    workers: int = 2,
    ready: Callable[[tuple[str, int]], None] = lambda address: None,
) -> None:
    """Run cycles until SIGTERM/SIGINT: one at start, then every fleet interval or when the
    webhook asks. ``load`` re-reads the fleet file each cycle (a bad edit is logged, and the
    last good fleet keeps running)."""
    trigger = threading.Event()
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        _event("stopping: finishing the running steps", signal=signal.Signals(signum).name)
        runner.stopping.set()
        stop.set()
        trigger.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = hook_server(listen, token, trigger)
    bound = server.server_address
    host, port = str(listen[0]), int(bound[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _event("listening", url=f"http://{host}:{port}{HOOK_PATH}")
    ready((host, port))
    fleet = load()
    try:
        while not stop.is_set():
            trigger.clear()
            try:
                fleet = load()
            except ZerocveError as e:
                _event("fleet file unreadable; keeping the last good one", error=e.diagnostics())
            started = time.monotonic()
            try:
                report = run_cycle(runner, fleet, workers=workers)
            except ZerocveError as e:  # the store or the repositories: try again next time
                _event("cycle failed", error=e.diagnostics())
            else:
                _event("cycle done", seconds=round(time.monotonic() - started, 3),
                       **_summary(report))
            trigger.wait(fleet.interval.total_seconds())
    finally:
        server.shutdown()
        server.server_close()
        _event("stopped")

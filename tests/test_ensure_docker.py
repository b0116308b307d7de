"""scripts/ensure-docker puts an engine that was never in Swarm mode into Swarm mode before any
test runs, so every machine runs the tests on the same engine state. Driven against a stand-in
`docker` program (first on PATH) and a stand-in registry on a loopback port: the shared engine
of a test run must not be taken out of Swarm mode to show this."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "ensure-docker"

# Answers like dockerd's CLI for what ensure-docker asks; the Swarm state lives in a file.
FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "$FAKE_DOCKER_LOG"
case "$*" in
  "info --format {{.ServerVersion}}") echo 20.10.0 ;;
  "info --format {{.Swarm.LocalNodeState}}") cat "$FAKE_SWARM_STATE" ;;
  "swarm init --advertise-addr 127.0.0.1") echo active > "$FAKE_SWARM_STATE" ;;
  import*|push*|rmi*) ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
"""


@pytest.fixture
def registry() -> Iterator[str]:
    """A loopback registry that answers /v2/ and lists the probe's tag."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"tags": ["latest"]}' if self.path.endswith("/tags/list") else b"{}"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _run(tmp_path: Path, registry: str, state: str) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "docker"
    fake.write_text(FAKE_DOCKER, encoding="utf-8")
    fake.chmod(0o755)
    (tmp_path / "swarm").write_text(state + "\n", encoding="utf-8")
    log = tmp_path / "docker.log"
    log.write_text("", encoding="utf-8")
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "DOCKER_HOST": "unix:///nonexistent/fake.sock",
        "OPSLOOP_TEST_REGISTRY": registry,
        "OPSLOOP_DOCKER_TIMEOUT": "10",
        "FAKE_DOCKER_LOG": str(log),
        "FAKE_SWARM_STATE": str(tmp_path / "swarm"),
    }
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return done, log.read_text(encoding="utf-8")


@pytest.mark.skipif(not Path("/bin/busybox").is_file(), reason="ensure-docker needs busybox")
def test_an_engine_never_in_swarm_mode_is_put_in_swarm_mode(tmp_path: Path, registry: str) -> None:
    done, calls = _run(tmp_path, registry, "inactive")
    assert done.returncode == 0, done.stderr
    assert "swarm init --advertise-addr 127.0.0.1" in calls
    assert (tmp_path / "swarm").read_text(encoding="utf-8").strip() == "active"
    assert "swarm: initialised Swarm mode" in done.stdout

    again, calls = _run(tmp_path, registry, "active")
    assert again.returncode == 0, again.stderr
    assert "swarm init" not in calls and "swarm: reusing" in again.stdout


@pytest.mark.skipif(not Path("/bin/busybox").is_file(), reason="ensure-docker needs busybox")
def test_a_swarm_in_a_state_it_cannot_fix_is_named(tmp_path: Path, registry: str) -> None:
    done, calls = _run(tmp_path, registry, "locked")
    assert done.returncode != 0 and "swarm init" not in calls
    assert "Swarm state is 'locked'" in done.stderr

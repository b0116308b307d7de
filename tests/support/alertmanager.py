"""A real Alertmanager (Debian's prometheus-alertmanager) started for one test on ephemeral
loopback ports, its webhook pointed at the bot with a bearer token and group_wait of 1 s."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

BINARY = "prometheus-alertmanager"
START_DEADLINE = 20.0

CONFIG = """
route:
  receiver: opsloop
  group_by: ["alertname", "service", "environment"]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: opsloop
    webhook_configs:
      - url: "{webhook}"
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: "{token}"}}
"""


def available() -> bool:
    """Whether the binary is installed (scripts/ensure-alertmanager installs it)."""
    return shutil.which(BINARY) is not None


@contextmanager
def alertmanager(folder: Path, port: int, webhook: str, token: str) -> Iterator[str]:
    """Run Alertmanager on 127.0.0.1:`port` until the block ends; yields its base URL."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "alertmanager.yml"
    config.write_text(CONFIG.format(webhook=webhook, token=token))
    url = f"http://127.0.0.1:{port}"
    log = (folder / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [BINARY, f"--config.file={config}", f"--storage.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                said = (folder / "alertmanager.log").read_text()[-2000:]
                raise RuntimeError(f"Alertmanager did not start: {said}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def ready(url: str) -> bool:
    """Whether Alertmanager answers its readiness path."""
    try:
        return httpx.get(f"{url}/-/ready", timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def fire(url: str, labels: dict[str, str], summary: str, resolved: bool = False) -> None:
    """Push one alert into Alertmanager, as Prometheus would (API v2)."""
    alert: dict[str, Any] = {"labels": labels, "annotations": {"summary": summary},
                             "generatorURL": "http://prometheus.local/graph"}  # fmt: skip
    if resolved:
        alert["endsAt"] = "2000-01-01T00:00:00Z"
    answer = httpx.post(f"{url}/api/v2/alerts", json=[alert], timeout=5, trust_env=False)
    answer.raise_for_status()


def alerts(url: str) -> list[dict[str, Any]]:
    """Alertmanager's alerts with their status (active, suppressed and by which silences)."""
    answer = httpx.get(f"{url}/api/v2/alerts", timeout=5, trust_env=False)
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()
    return found


def silence(url: str, silence_id: str) -> dict[str, Any]:
    """One silence, with its status (active, expired)."""
    answer = httpx.get(f"{url}/api/v2/silence/{silence_id}", timeout=5, trust_env=False)
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found

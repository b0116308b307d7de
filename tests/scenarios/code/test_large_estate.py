"""/services for an estate of 150 services, through the local workspace: the summary first,
pages turned in place, every filter, the CSV export, and Slack's limits on every message
(the workspace checks blocks and characters on each call)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from bot.config import parse_config
from bot.core.listing import ListAction
from bot.core.naming import (
    LABEL_ENV,
    LABEL_NAMESPACE,
    LABEL_SERVICE,
    LABEL_VERSION,
    deployment_name,
)
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import Harness, start_bot
from tests.support.images import HTTPD_DOCKERFILE_TAIL, build_image, write_busybox_context

SERVICES = 150
NAMESPACE = "estate"
DEADLINE = 30.0


@dataclass
class Estate:
    harness: Harness
    prefix: str

    def name(self, n: int) -> str:
        return f"{self.prefix}-svc-{n:03d}"


def _config(prefix: str, repo: Path) -> str:
    lines = ["slack:", "  ops_channel: C0OPS", "services:"]
    for n in range(SERVICES):
        # Service 1 answers its health path; service 2 runs but its health path is missing.
        health = "/missing.txt" if n == 2 else "/health.txt"
        lines += [
            f"  {prefix}-svc-{n:03d}:",
            f"    repo: {repo}",
            f"    image: 127.0.0.1:5000/{prefix}-svc-{n:03d}",
            "    port: 8080",
            f"    health: {health}",
            "    deploy:",
            "      staging: {target: container}",
            "      prod: {target: container}",
        ]
    lines += ["environments:", "  staging: {}", "  prod: {}"]
    lines += ["docker:", f"  namespace: {NAMESPACE}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def estate(
    workspace: SlackWorkspace,
    settings: Settings,
    docker_client: docker.DockerClient,
    busybox_path: Path,
    tmp_path: Path,
) -> Iterator[Estate]:
    prefix = f"e{uuid.uuid4().hex[:5]}"
    context = write_busybox_context(
        tmp_path / "image", busybox_path, {"www/health.txt": "ok"}, HTTPD_DOCKERFILE_TAIL
    )
    image = build_image(docker_client, context, f"opsloop-test/{prefix}:1.0.0", {})
    containers = [
        docker_client.containers.run(
            image.id,
            name=deployment_name(NAMESPACE, f"{prefix}-svc-{n:03d}", "prod"),
            labels={LABEL_SERVICE: f"{prefix}-svc-{n:03d}", LABEL_ENV: "prod",
                    LABEL_VERSION: "1.0.0", LABEL_NAMESPACE: NAMESPACE},
            ports={"8080/tcp": ("127.0.0.1", None)},
            detach=True,
        )
        for n in (1, 2)
    ]  # fmt: skip
    harness = start_bot(workspace, settings, parse_config(_config(prefix, tmp_path), {}))
    try:
        yield Estate(harness, prefix)
    finally:
        harness.bot.stop()
        harness.slack.close()
        for container in containers:
            container.remove(force=True)
        docker_client.images.remove(image.id, force=True)


def _shown(estate: Estate, command: str = "/services", text: str = "") -> tuple[str, str]:
    """Send the command and return (the ts of the list's ephemeral message, its text)."""
    ws = estate.harness.workspace
    before = len(ws.ephemerals("C0DEV", "U0ALICE"))
    estate.harness.slack.slash(command, text)

    def listed() -> bool:
        found = ws.ephemerals("C0DEV", "U0ALICE")[before:]
        return any(e.blocks and "*Services*" in _text(e.blocks) for e in found) or any(
            ":warning:" in e.text for e in found
        )

    ws.wait_for(listed, timeout=DEADLINE)
    last = ws.ephemerals("C0DEV", "U0ALICE")[-1]
    return last.ts, _text(last.blocks or []) or last.text


def _text(blocks: list[dict[str, object]]) -> str:
    parts = []
    for block in blocks:
        section = block.get("text")
        if isinstance(section, dict):
            parts.append(str(section.get("text", "")))
        for element in block.get("elements", []) or []:  # type: ignore[attr-defined]
            parts.append(f"[{element['text']['text']}]")
    return "\n".join(parts)


def _click(estate: Estate, ts: str, label: str) -> str:
    ws = estate.harness.workspace
    (message,) = [e for e in ws.ephemerals("C0DEV", "U0ALICE") if e.ts == ts]
    button = next(
        element
        for block in message.blocks or []
        if block["type"] == "actions"
        for element in block["elements"]
        if element["text"]["text"] == label
    )
    before = _text(message.blocks or [])
    estate.harness.slack.block_action("U0ALICE", "C0DEV", ts, button["action_id"], button["value"])

    def changed() -> bool:
        (now,) = [e for e in ws.ephemerals("C0DEV", "U0ALICE") if e.ts == ts]
        return _text(now.blocks or []) != before

    if button["action_id"] != ListAction.EXPORT.value:
        ws.wait_for(changed, timeout=DEADLINE)
    (now,) = [e for e in ws.ephemerals("C0DEV", "U0ALICE") if e.ts == ts]
    return _text(now.blocks or [])


@pytest.mark.docker
def test_the_first_page_summarises_the_estate_and_pages_turn_in_place(estate: Estate) -> None:
    ts, first = _shown(estate)
    assert f"{SERVICES} services: 1 unhealthy, 0 deploying, 0 locked" in first
    assert "items 1-40 of 150" in first
    assert estate.name(0) in first and estate.name(40) not in first
    assert "[Next]" in first and "[Previous]" not in first
    count = len(estate.harness.workspace.ephemerals("C0DEV", "U0ALICE"))

    page = first
    for expected in ("items 41-80", "items 81-120", "items 121-150"):
        page = _click(estate, ts, "Next")
        assert f"{expected} of 150" in page
    assert estate.name(149) in page and "[Next]" not in page
    back = _click(estate, ts, "Previous")
    assert "items 81-120 of 150" in back and estate.name(81) in back
    # Every turn edited the same message: no new one appeared.
    assert len(estate.harness.workspace.ephemerals("C0DEV", "U0ALICE")) == count


@pytest.mark.docker
def test_each_filter_narrows_the_list(estate: Estate) -> None:
    _ts, unhealthy = _shown(estate, text="unhealthy")
    assert estate.name(2) in unhealthy and estate.name(1) not in unhealthy
    assert "1 shown" in unhealthy

    _ts, healthy = _shown(estate, text="healthy prod")
    assert estate.name(1) in healthy and estate.name(2) not in healthy

    _ts, undeployed = _shown(estate, text="undeployed")
    assert "148 shown" in undeployed

    _ts, by_prefix = _shown(estate, text=f"{estate.prefix}-svc-01*")
    assert "10 of 150 services" in by_prefix and estate.name(19) in by_prefix

    _ts, staging = _shown(estate, text=f"staging {estate.name(1)}")
    assert "`staging`" in staging and "`prod`" not in staging

    _ts, exact = _shown(estate, text=estate.name(7))
    assert "1 of 150 services" in exact and estate.name(7) in exact


@pytest.mark.docker
def test_export_shares_every_item_as_csv_in_the_channel(estate: Estate) -> None:
    ts, _first = _shown(estate)
    _click(estate, ts, "Export all as CSV")
    ws = estate.harness.workspace
    ws.wait_for(lambda: any(f.completed for f in ws.files()), timeout=DEADLINE)
    (shared,) = ws.files()
    assert shared.filename == "services.csv" and "C0DEV" in shared.channels
    rows = list(csv.reader(io.StringIO(bytes(shared.content or b"").decode())))
    assert rows[0][:3] == ["service", "environment", "version"]
    assert len(rows) == 1 + SERVICES * 2
    prod_1 = next(row for row in rows if row[:2] == [estate.name(1), "prod"])
    assert prod_1[2] == "1.0.0" and prod_1[6] == "up"

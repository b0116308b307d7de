"""/services for an estate of 150 services, through the local workspace: the summary first,
pages turned in place, every filter, the CSV export, and Slack's limits on every message
(the workspace checks blocks and characters on each call)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from bot.config import parse_config
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
from tests.scenarios.large_lists import Lists, pages, text_of
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


def _response_texts(estate: Estate) -> list[str]:
    """Every page the bot sent through a response_url, as sent."""
    calls = estate.harness.workspace.calls_to("response_url")
    return [text_of(list(call.params.get("blocks") or [])) for call in calls]


@pytest.mark.docker
def test_the_first_page_summarises_the_estate_and_pages_turn_in_place(estate: Estate) -> None:
    lists = Lists(estate.harness)
    ts, first = lists.show("/services")
    assert f"{SERVICES} services: 1 unhealthy, 0 deploying, 0 locked" in first
    assert "items 1-40 of 150" in first
    assert estate.name(0) in first and estate.name(40) not in first
    assert "[Next]" in first and "[Previous]" not in first
    # The page came first from the engine's listing alone, health pending; the checks'
    # results then edited the same message.
    sent = [text for text in _response_texts(estate) if "*Services*" in text]
    assert "150 services: health being checked, 0 deploying, 0 locked" in sent[0]
    assert "Health is being checked" in sent[0] and "1 unhealthy" in sent[-1]
    count = len(estate.harness.workspace.ephemerals("C0DEV", "U0ALICE"))

    last = pages(lists, ts, first, SERVICES)
    assert estate.name(149) in last
    # Every turn edited the same message: no new one appeared.
    assert len(estate.harness.workspace.ephemerals("C0DEV", "U0ALICE")) == count


@pytest.mark.docker
def test_each_filter_narrows_the_list(estate: Estate) -> None:
    lists = Lists(estate.harness)
    _ts, unhealthy = lists.show("/services", "unhealthy")
    assert estate.name(2) in unhealthy and estate.name(1) not in unhealthy
    assert "1 shown" in unhealthy

    _ts, healthy = lists.show("/services", "healthy prod")
    assert estate.name(1) in healthy and estate.name(2) not in healthy

    _ts, undeployed = lists.show("/services", "undeployed")
    assert "148 shown" in undeployed

    _ts, by_prefix = lists.show("/services", f"{estate.prefix}-svc-01*")
    assert "10 of 150 services" in by_prefix and estate.name(19) in by_prefix

    _ts, staging = lists.show("/services", f"staging {estate.name(1)}")
    assert "`staging`" in staging and "`prod`" not in staging

    _ts, exact = lists.show("/services", estate.name(7))
    assert "1 of 150 services" in exact and estate.name(7) in exact


@pytest.mark.docker
def test_export_shares_every_item_as_csv_in_the_channel(estate: Estate) -> None:
    lists = Lists(estate.harness)
    ts, _first = lists.show("/services")
    rows = lists.export(ts, "services.csv")
    assert rows[0][:3] == ["service", "environment", "version"]
    assert len(rows) == 1 + SERVICES * 2
    prod_1 = next(row for row in rows if row[:2] == [estate.name(1), "prod"])
    assert prod_1[2] == "1.0.0" and prod_1[6] == "up"

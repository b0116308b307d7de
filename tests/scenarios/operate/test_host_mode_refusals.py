"""/scale refuses, before anyone approves, replicas that host-mode ports cannot place: each
task binds the port on its node, and this engine is one node (issue 12)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import pytest

from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.deploy.support import free_port
from tests.scenarios.operate.support import (
    Bot,
    Images,
    config_text,
    create_service,
    operate_images,
    remove_all,
    replicas,
    start_bot,
    swarm,
    wait_running,
)
from tests.scenarios.operate.test_scale_and_restart import _ask

__all__ = ["operate_images", "swarm"]

PORT = free_port()


@pytest.fixture
def host_mode_bot(
    workspace: SlackWorkspace,
    settings: Settings,
    operate_images: Images,
    swarm: docker.DockerClient,
) -> Iterator[Bot]:
    """A bot whose staging publishes a port in host mode (max 4 replicas)."""
    service = f"hm{uuid.uuid4().hex[:6]}"
    extra = f", publish: {PORT}, publish_mode: host"
    harness = start_bot(workspace, settings, config_text(service, operate_images.web, extra))
    running_bot = Bot(harness, service, swarm)
    yield running_bot
    running_bot.harness.bot.stop()
    running_bot.harness.slack.close()
    remove_all(swarm, service)


def test_scale_beyond_the_nodes_in_host_mode_is_refused_and_changes_nothing(
    host_mode_bot: Bot, operate_images: Images
) -> None:
    bot = host_mode_bot
    create_service(bot.client, bot.service, "staging", operate_images.web, 1, publish=PORT)
    wait_running(bot.ws, bot.client, bot.service, "staging", 1)

    said = _ask(bot, "/scale", f"{bot.service} staging 2")
    assert "host mode with 2 replicas" in said and "1 ready node" in said, said
    assert "publish_mode: proxy" in said and "Nothing was changed" in said
    assert replicas(bot.client, bot.service, "staging") == 1
    ops = [m.text for m in bot.ws.messages("C0OPS") if m.is_bot]
    dev = [m.text for m in bot.ws.messages("C0DEV") if m.is_bot]
    assert not any("Scale" in text or "scale" in text for text in ops + dev), (ops, dev)

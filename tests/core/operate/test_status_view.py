"""/status shows a Swarm deployment's reverse proxy: running, or down with how to start it."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.operate.model import Placement, ProxyState, Status
from bot.core.operate.views import Seen, status_reply

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WEB = Placement("web", "prod", "swarm", "127.0.0.1:5000/web", 2, 4)
NAME = "opsloop-team-web-prod-proxy"


def _shown(proxy: ProxyState | None) -> str:
    status = Status("opsloop-team-web-prod", "swarm", True, "1.0.0", desired=2, running=2,
                    proxy=proxy)  # fmt: skip
    reply = status_reply([Seen(WEB, status)], NOW, usage_pending=False)
    return "\n".join(str(block["text"]["text"]) for block in reply.blocks)  # type: ignore[index]


def test_a_running_proxy_is_shown_with_its_address() -> None:
    shown = _shown(ProxyState(NAME, "running", "127.0.0.1:18080"))
    assert f":large_green_circle: proxy `{NAME}` running on 127.0.0.1:18080" in shown
    assert "docker start" not in shown


def test_a_proxy_that_is_down_is_reported_with_how_to_start_it() -> None:
    shown = _shown(ProxyState(NAME, "exited", "port 18080 of every address"))
    assert f":red_circle: proxy `{NAME}` exited" in shown
    assert f"`docker start {NAME}`" in shown


def test_a_deployment_without_a_proxy_shows_no_proxy_line() -> None:
    assert "proxy" not in _shown(None)

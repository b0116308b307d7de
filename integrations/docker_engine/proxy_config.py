"""The reverse proxy's Caddy config (JSON, as Caddy's admin API takes it) and the upstreams
it forwards to: the Swarm tasks, or the container, of one deployment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

LISTEN = 8080
"""The port Caddy listens on inside its container."""
ADMIN = "127.0.0.1:2019"
CONFIG_FILE = "/etc/opsloop/caddy.json"
TRY_DURATION = "5s"
"""How long Caddy keeps trying other upstreams for a request whose upstream went away."""


def caddy_config(upstreams: Sequence[str]) -> dict[str, Any]:
    """Caddy's JSON config: plain HTTP on LISTEN, round robin over `upstreams`
    (`host:port`), a request retried on another upstream when its upstream refuses; 503
    while there is no upstream."""
    if upstreams:
        handler: dict[str, Any] = {
            "handler": "reverse_proxy",
            "upstreams": [{"dial": address} for address in upstreams],
            "load_balancing": {
                "selection_policy": {"policy": "round_robin"},
                "try_duration": TRY_DURATION,
                "try_interval": "50ms",
            },
            "health_checks": {"passive": {"fail_duration": "2s", "max_fails": 1}},
            "transport": {"protocol": "http", "dial_timeout": "1s"},
        }
    else:
        handler = {"handler": "static_response", "status_code": 503,
                   "body": "no healthy replica yet\n"}  # fmt: skip
    return {
        "admin": {"listen": ADMIN},
        "logging": {"logs": {"default": {"level": "ERROR"}}},
        "apps": {
            "http": {
                "grace_period": "30s",
                "servers": {
                    "opsloop": {
                        "listen": [f":{LISTEN}"],
                        "automatic_https": {"disable": True},
                        "routes": [{"handle": [handler]}],
                    }
                },
            }
        },
    }


def upstreams_in(config: dict[str, Any]) -> list[str]:
    """The upstreams (`host:port`) a config made by caddy_config() forwards to."""
    servers = ((config.get("apps") or {}).get("http") or {}).get("servers") or {}
    routes = (servers.get("opsloop") or {}).get("routes") or [{}]
    handler = (routes[0].get("handle") or [{}])[0]
    return sorted(str(u["dial"]) for u in handler.get("upstreams") or [])


def task_upstreams(tasks: Sequence[dict[str, Any]], network_id: str, port: int) -> list[str]:
    """`ip:port` of every task Swarm reports running and wants running, on the network."""
    found = []
    for task in tasks:
        if task.get("DesiredState") != "running" or task["Status"]["State"] != "running":
            continue
        for attachment in task.get("NetworksAttachments") or []:
            if attachment["Network"]["ID"] != network_id:
                continue
            for address in attachment.get("Addresses") or []:
                found.append(f"{str(address).partition('/')[0]}:{port}")
    return sorted(found)


def published(container_attrs: dict[str, Any]) -> tuple[str, str | None]:
    """The host address ("" for every address) and host port a proxy container publishes
    LISTEN on, from its attributes (None when it publishes none)."""
    bindings = ((container_attrs.get("HostConfig") or {}).get("PortBindings") or {}).get(
        f"{LISTEN}/tcp"
    ) or [{}]
    port = bindings[0].get("HostPort")
    return str(bindings[0].get("HostIp") or ""), str(port) if port else None

"""Prometheus metrics for /metrics, in a registry of their own (one per app, so tests and
benchmarks can run several apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Commands handled, acknowledgement latency and Slack API errors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "opsloop_commands",
            "Commands handled, by verb and outcome.",
            ["verb", "outcome"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "opsloop_ack_seconds",
            "Time from a Slack request's arrival to its acknowledgement.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0),
            registry=self.registry,
        )
        self.slack_api_errors = Counter(
            "opsloop_slack_api_errors",
            "Slack Web API calls that failed or were rate limited, by method and error.",
            ["method", "error"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)

"""Prometheus metrics for /metrics, in a registry of their own (one per app, so tests and
benchmarks can run several apps in one process), with the standard process, platform and
garbage-collector collectors registered in each."""

from __future__ import annotations

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
)

from bot.version import opsloop_version

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Counters and histograms would each also export a *_created series (their creation time
# as a float sample), which doubles every series in the text format for no use here.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated upstream

_STANDARD = (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR)


class Metrics:
    """Commands handled, acknowledgement latency and Slack API errors; the leases this
    process holds and its process id; the process (CPU, memory, open files), Python
    (version, garbage collection) and opsloop_build_info."""

    def __init__(self, process_id: str = "") -> None:
        self.registry = CollectorRegistry()
        for collector in _STANDARD:
            # The same collector objects the default registry uses: they only read the
            # process's state when scraped, so sharing them is safe.
            self.registry.register(collector)
        Info("opsloop_build", "The running opsloop.", registry=self.registry).info(
            {"version": opsloop_version()}
        )
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
        Info(
            "opsloop_process", "This process, as its heartbeat row names it.",
            registry=self.registry,
        ).info({"process_id": process_id})  # fmt: skip
        self.lease_held = Gauge(
            "opsloop_lease_held",
            "1 while this process holds the lease (and runs its singleton work), else 0.",
            ["lease"],
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

"""A deploy keeps the replica count /scale or the autoscaler set; opsloop.yml's number
applies to a new service, and again when it changed while nobody scaled."""

from __future__ import annotations

from bot.core.deploy.replicas import replicas_for_deploy


def test_a_new_service_starts_with_the_configured_count() -> None:
    assert replicas_for_deploy(2, None, None) == 2


def test_a_scaled_service_keeps_its_count() -> None:
    # Deployed with 2, scaled to 5 by /scale or the autoscaler since.
    assert replicas_for_deploy(2, 5, "2") == 5
    # The config changed to 3 meanwhile: the scale still wins.
    assert replicas_for_deploy(3, 5, "2") == 5


def test_a_service_nobody_scaled_follows_the_config() -> None:
    assert replicas_for_deploy(2, 2, "2") == 2
    assert replicas_for_deploy(4, 2, "2") == 4


def test_a_service_made_outside_opsloop_keeps_what_it_runs() -> None:
    assert replicas_for_deploy(1, 3, None) == 3
    assert replicas_for_deploy(1, 3, "three") == 3


def test_a_service_set_to_zero_gets_the_configured_count() -> None:
    assert replicas_for_deploy(2, 0, "2") == 2

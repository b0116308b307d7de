"""opsloop.yml's /ship keys, as core's values: the pipeline, the watch and its floor."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, parse_config
from bot.config.estates import ship_settings

BASE = """
slack: {ops_channel: C0OPS}
services:
  web:
    repo: ./web
    image: 127.0.0.1:5000/web
    port: 8080
    checks: {interval: 500ms, timeout: 400ms}
    deploy:
      prod: {target: container, publish: 18080}
      staging: {target: container, publish: 18081}
%s
environments:
  staging: {pipeline_watch: 30s}
  qa: {}
  prod: {}
"""


def test_the_default_pipeline_follows_the_order_of_environments() -> None:
    web = ship_settings(parse_config(BASE % "", {})).services["web"]
    assert web.pipeline == ("staging", "prod")
    assert web.watch == (("staging", 30.0), ("prod", 120.0))
    assert web.min_samples == 3
    assert web.check_interval == 0.5


def test_the_service_sets_its_pipeline_watch_and_floor() -> None:
    extra = "    pipeline: [prod]\n    watch: 5s\n    watch_min_samples: 2"
    web = ship_settings(parse_config(BASE % extra, {})).services["web"]
    assert web.pipeline == ("prod",)
    assert web.watch_seconds("prod") == 5.0
    assert web.min_samples == 2


def test_a_pipeline_env_without_deploy_settings_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"services\.web\.pipeline: 'qa' has no deploy settings"):
        parse_config(BASE % "    pipeline: [staging, qa]", {})

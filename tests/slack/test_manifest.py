"""The app manifest: generated from the verbs, pinned in app-manifest.yml, valid for Slack."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from bot.slack.manifest import manifest, manifest_yaml
from commands import declared_registry
from tests.specs import REPO, specs_dir


def test_app_manifest_file_is_what_opsloop_manifest_prints() -> None:
    pinned = (REPO / "app-manifest.yml").read_text()
    assert pinned == manifest_yaml(declared_registry()), "run `opsloop manifest > app-manifest.yml`"


@pytest.mark.parametrize("version", ["1.0.0", "2.0.0"])
def test_manifest_validates_against_slacks_schema(version: str) -> None:
    schema = json.loads((specs_dir() / "slack" / f"manifest.schema.{version}.json").read_text())
    document = yaml.safe_load((REPO / "app-manifest.yml").read_text())
    jsonschema.validate(document, schema)


def test_every_stage_command_and_ops_are_registered() -> None:
    commands = {c["command"] for c in manifest(declared_registry())["features"]["slash_commands"]}
    expected = {
        "/plan", "/build", "/test", "/release", "/deploy", "/rollback", "/status", "/scale",
        "/logs", "/monitor", "/alerts", "/ship", "/lock", "/unlock", "/ops",
    }  # fmt: skip
    assert expected <= commands
    assert "/help" not in commands and "/audit" not in commands


def test_a_schema_violation_would_be_caught() -> None:
    schema = json.loads((specs_dir() / "slack" / "manifest.schema.1.0.0.json").read_text())
    document = manifest(declared_registry())
    document["features"]["slash_commands"][0]["command"] = "no-leading-slash"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)

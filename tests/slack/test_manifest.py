"""The app manifest: generated from the verbs, pinned in app-manifest.yml, valid for Slack."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from bot.core.values import Reply
from bot.core.verbs import Arg, ArgKind, Registry, Verb, planned
from bot.slack.manifest import check_prefix, manifest, manifest_yaml
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


def test_only_built_verbs_get_a_slash_command() -> None:
    registry = declared_registry()
    commands = {c["command"] for c in manifest(registry)["features"]["slash_commands"]}
    built = {verb.command for verb in registry.verbs() if verb.available}
    planned = {verb.command for verb in registry.verbs() if not verb.available} - built
    assert commands == built | {"/ops"}
    expected = {"/plan", "/build", "/test", "/release", "/deploy", "/rollback", "/lock", "/unlock",
                "/status", "/scale", "/restart", "/logs"}  # fmt: skip
    assert expected <= commands
    assert not planned & commands
    assert "/help" not in commands and "/audit" not in commands


def _registry_with_a_planned_stage() -> Registry:
    registry = Registry()
    registry.add(Verb("tidy", "Tidy up.", "Tidy", lambda _i: Reply(text="done")))
    registry.add(planned("ship", "Ship it.", "Ship", args=(Arg("service", ArgKind.SERVICE),)))
    return registry


def test_a_planned_verb_is_left_out_and_no_arguments_means_no_usage_hint() -> None:
    entries = manifest(_registry_with_a_planned_stage())["features"]["slash_commands"]
    assert [entry["command"] for entry in entries] == ["/tidy", "/ops"]
    assert "usage_hint" not in entries[0]
    assert entries[1]["usage_hint"].startswith("<verb>")


def test_socket_mode_manifest_names_no_request_url() -> None:
    document = manifest(declared_registry(), socket_mode=True)
    settings = document["settings"]
    assert settings["socket_mode_enabled"] is True
    assert "request_url" not in settings["event_subscriptions"]
    assert "request_url" not in settings["interactivity"]
    assert all("url" not in entry for entry in document["features"]["slash_commands"])
    schema = json.loads((specs_dir() / "slack" / "manifest.schema.1.0.0.json").read_text())
    jsonschema.validate(
        yaml.safe_load(manifest_yaml(declared_registry(), socket_mode=True)), schema
    )


def test_a_prefix_names_every_command() -> None:
    registry = declared_registry()
    document = manifest(registry, prefix="ops-")
    commands = [entry["command"] for entry in document["features"]["slash_commands"]]
    assert "/ops-deploy" in commands and "/ops-build" in commands and "/ops-ops" in commands
    assert all(command.startswith("/ops-") for command in commands)
    schema = json.loads((specs_dir() / "slack" / "manifest.schema.1.0.0.json").read_text())
    jsonschema.validate(document, schema)


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [("Ops-", "lowercase letters"), ("a b", "lowercase letters"), ("x" * 30, "too long")],
)
def test_a_prefix_slack_would_refuse_is_refused_with_the_reason(prefix: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_prefix(prefix, declared_registry())
    assert check_prefix("ops-", declared_registry()) == "ops-"


def test_a_schema_violation_would_be_caught() -> None:
    schema = json.loads((specs_dir() / "slack" / "manifest.schema.1.0.0.json").read_text())
    document = manifest(declared_registry())
    document["features"]["slash_commands"][0]["command"] = "no-leading-slash"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)

"""Words to arguments: quoting, checks per kind, and the answers bad input gets."""

from __future__ import annotations

import pytest

from bot.core.errors import NotFound, UsageError
from bot.core.parsing import Catalog, bind, command_words, duration_seconds, split_words
from bot.core.values import Invocation, Reply, SlashCommand
from bot.core.verbs import Arg, ArgKind, Option, Verb

CATALOG = Catalog(services={"web", "api"}, environments={"staging", "prod"})


def _noop(_invocation: Invocation) -> Reply:
    return Reply(text="")


DEPLOY = Verb(
    name="deploy",
    summary="deploy",
    stage="Deploy",
    handler=_noop,
    args=(
        Arg("service", ArgKind.SERVICE),
        Arg("version", ArgKind.VERSION),
        Arg("env", ArgKind.ENVIRONMENT, after="to"),
    ),
    options=(Option("dry-run"),),
)
LOCK = Verb(
    name="lock",
    summary="lock",
    stage="Deploy",
    handler=_noop,
    args=(Arg("env", ArgKind.ENVIRONMENT), Arg("reason", optional=True, rest=True)),
    options=(Option("for", value="duration", kind=ArgKind.DURATION),),
)


def _command(command: str, text: str) -> SlashCommand:
    return SlashCommand(command, text, "U1", "C1", "T1", "http://127.0.0.1/r")


def test_ops_and_direct_commands_give_the_same_words() -> None:
    assert command_words(_command("/ops", "deploy web 1.2.0 prod")) == command_words(
        _command("/deploy", "web 1.2.0 prod")
    )


def test_binds_positional_arguments_options_and_the_noise_word() -> None:
    args, options = bind(DEPLOY, ["web", "1.2.0", "to", "prod", "--dry-run"], CATALOG)
    assert args == {"service": "web", "version": "1.2.0", "env": "prod"}
    assert options == {"dry-run": True}


SHIP = Verb(
    name="ship",
    summary="ship",
    stage="Continuous",
    handler=_noop,
    args=(
        Arg("service", ArgKind.SERVICE),
        Arg("version", ArgKind.VERSION),
        Arg("ref", ArgKind.REF, optional=True),
        Arg("env", ArgKind.ENVIRONMENT, optional=True, after="to"),
    ),
)


def test_an_optional_argument_left_out_before_the_next_ones_noise_word() -> None:
    args, _ = bind(SHIP, ["web", "1.2.0", "to", "prod"], CATALOG)
    assert args == {"service": "web", "version": "1.2.0", "env": "prod"}
    args, _ = bind(SHIP, ["web", "1.2.0", "main", "to", "prod"], CATALOG)
    assert args == {"service": "web", "version": "1.2.0", "ref": "main", "env": "prod"}
    args, _ = bind(SHIP, ["web", "1.2.0", "main"], CATALOG)
    assert args == {"service": "web", "version": "1.2.0", "ref": "main"}


def test_free_text_keeps_quoted_words_and_option_values() -> None:
    words = split_words('prod "db migration; rm -rf /" --for 2h')
    args, options = bind(LOCK, words, CATALOG)
    assert args == {"env": "prod", "reason": "db migration; rm -rf /"}
    assert options == {"for": "2h"}
    assert duration_seconds("2h") == 7200


def test_typographic_quotes_from_slack_clients_are_read_as_quotes() -> None:
    assert split_words("prod \u201cfreeze for release\u201d") == ["prod", "freeze for release"]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([], "Missing <service>"),
        (["web"], "Missing <version>"),
        (["web", "1.2", "prod"], "is not a semantic version"),
        (["web", "1.2.0", "prod", "extra"], "Unexpected extra argument"),
        (["web", "1.2.0", "prod", "--force"], "Unknown option `--force`"),
        (["web", "$(reboot)", "prod"], "is not a semantic version"),
    ],
)
def test_malformed_arguments_get_a_usage_message(words: list[str], expected: str) -> None:
    with pytest.raises(UsageError) as caught:
        bind(DEPLOY, words, CATALOG)
    assert expected in caught.value.message
    assert caught.value.hint == "Usage: `/deploy <service> <version> [to] <env> [--dry-run]`"


def test_unknown_service_is_not_found_and_lists_the_known_ones() -> None:
    with pytest.raises(NotFound) as caught:
        bind(DEPLOY, ["billing", "1.0.0", "prod"], CATALOG)
    assert "Unknown service `billing`" in caught.value.message
    assert "`api`, `web`" in caught.value.message


def test_shell_metacharacters_in_a_name_are_refused_not_run() -> None:
    with pytest.raises(UsageError) as caught:
        bind(DEPLOY, ["web;ls", "1.0.0", "prod"], CATALOG)
    assert "`web;ls`" in caught.value.message


def test_unclosed_quote_and_overlong_text_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="quotation"):
        split_words('prod "never closed')
    with pytest.raises(UsageError, match="limit is 4,000"):
        split_words("x" * 4001)


@pytest.mark.parametrize("ref", ["main", "v1.2.0", "feature/login", "a1b2c3d"])
def test_safe_refs_pass(ref: str) -> None:
    build = Verb("build", "b", "Build", _noop, args=(Arg("ref", ArgKind.REF),))
    assert bind(build, [ref], CATALOG)[0] == {"ref": ref}


@pytest.mark.parametrize(
    "ref", ["../etc/passwd", "-rf", "main;reboot", "a..b", "x.lock", "`id`", "a b"]
)
def test_dangerous_refs_are_refused(ref: str) -> None:
    build = Verb("build", "b", "Build", _noop, args=(Arg("ref", ArgKind.REF, rest=False),))
    with pytest.raises(UsageError, match="not a valid git"):
        bind(build, [ref], CATALOG)


def test_unicode_arguments_are_echoed_safely() -> None:
    with pytest.raises(UsageError, match="Unknown environment `pröd`"):
        bind(LOCK, ["pröd"], CATALOG)


def test_a_prefix_never_hides_a_plain_command_name() -> None:
    from bot.core.parsing import without_prefix
    from bot.core.values import SlashCommand

    known = {"/release", "/lease", "/deploy", "/ops"}

    def named(command: str) -> str:
        typed = SlashCommand(command=command, text="", user_id="U0A", channel_id="C0A",
                             team_id="T0A", response_url="")  # fmt: skip
        return without_prefix(typed, "re", known).command

    assert named("/release") == "/release"  # a plain name stays what it is
    assert named("/relock") == "/relock"  # `/lock` is no command here: nothing to strip to
    assert named("/redeploy") == "/deploy"

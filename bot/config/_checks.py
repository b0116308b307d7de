"""Value checks for opsloop.yml and the custom error they raise.

Checks never echo the value they reject: it may have come from a secret ``${VAR}``.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from collections.abc import Iterable
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from bot.core.crontab import CrontabError, parse_crontab

KeyPath = tuple[str | int, ...]

# A rule on a whole model still points at the exact key it is about: the error carries
# (relative key path, message) pairs under this context key, and the loader unpacks them.
AT = "opsloop_at"
ERROR_TYPE = "opsloop"


def fail(message: str, *at: str | int) -> PydanticCustomError:
    """An error whose message is shown as written, at ``at`` below the validated value."""
    return fail_many([(tuple(at), message)])


def fail_many(problems: Iterable[tuple[KeyPath, str]]) -> PydanticCustomError:
    """One error carrying several problems, each at its own relative key path."""
    items = tuple(problems)
    text = "; ".join(f"{dotted(at)}: {msg}" if at else msg for at, msg in items)
    # pydantic fills {name} placeholders from the context: keep braces in messages literal.
    return PydanticCustomError(ERROR_TYPE, text.replace("{", "{{").replace("}", "}}"), {AT: items})


def dotted(path: Iterable[str | int]) -> str:
    """("services", "web", "test", 0) -> "services.web.test[0]"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
_NAMESPACE = re.compile(r"[a-z][a-z0-9-]{0,23}")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}")
_SUBJECT = re.compile(r"[UWS][A-Z0-9]{2,}")
_VERB = re.compile(r"[a-z]+( [a-z]+)?")
_PROJECT = re.compile(r"[A-Z][A-Z0-9_]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATH = re.compile(r"/.*", re.DOTALL)
# The Docker reference grammar (distribution/reference), without tag and digest.
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_REGISTRY = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(rf"(?:{_REGISTRY}/)?{_PATH_PART}(?:/{_PATH_PART})*")
# What the Docker engine itself treats as insecure when told nothing else.
DEFAULT_INSECURE_REGISTRIES = ("127.0.0.0/8",)
_DOCKER_SCHEMES = ("unix", "tcp", "npipe", "ssh", "http", "https")


def _matching(pattern: re.Pattern[str] | str, message: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise fail(message)
        return value

    return AfterValidator(check)


def _check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise fail("must be between 1 and 65535")
    return value


_PUBLISH_HINT = "must be a host port (18080) or address:port (127.0.0.1:18080)"


def _check_publish(value: object) -> str:
    # Kept as text, "18080" or "127.0.0.1:18080"; DeploySettings splits it.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise fail(_PUBLISH_HINT)
    text = str(value).strip()
    host, colon, port = text.rpartition(":")
    if not port.isdigit():
        raise fail(_PUBLISH_HINT)
    _check_port(int(port))
    if not colon:
        return str(int(port))
    address = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise fail(
            f"{_PUBLISH_HINT}: the address must be an IP address the engine can bind "
            "(a host name is not)"
        ) from None
    shown = f"[{parsed}]" if parsed.version == 6 else str(parsed)
    return f"{shown}:{int(port)}"


def _check_image(value: str) -> str:
    if "@" in value or ":" in value.rsplit("/", 1)[-1]:
        raise fail("give the repository without a ':tag' or '@digest'; opsloop tags images itself")
    if len(value) > 255 or not _IMAGE.fullmatch(value):
        raise fail(
            "is not a valid image repository: use [registry-host[:port]/]path with lowercase "
            "path parts, e.g. 127.0.0.1:5000/web"
        )
    return value


_DURATION = re.compile(r"([1-9][0-9]{0,6})(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _to_seconds(value: object) -> object:
    """A duration as seconds: a whole number of seconds, or text such as 15s, 500ms, 30m."""
    if isinstance(value, bool):
        raise fail("must be a duration such as 15s, 500ms, 30m or 1h")
    if isinstance(value, int):
        if value < 1:
            raise fail("must be at least 1 second")
        return float(value)
    if isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise fail("must be a duration such as 15s, 500ms, 30m or 1h")


def check_test_command(value: object) -> object:
    """Reject a command given as one string: how it would be split is a guess."""
    if isinstance(value, str):
        raise fail('give the command as a list, e.g. ["pytest", "-q"]')
    return value


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise fail("is not a known time zone (use an IANA name such as Europe/Berlin)") from None
    return value


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail("must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise fail("must not contain credentials; use user and token (or token_env)")
    return value


def _check_docker_host(value: str) -> str:
    if "://" not in value or urlsplit(value).scheme not in _DOCKER_SCHEMES:
        raise fail(
            "must be a Docker address such as unix:///var/run/docker.sock or tcp://host:2375"
        )
    return value


def _check_insecure_registry(value: str) -> str:
    if "/" in value:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise fail(
                "must be a registry host[:port] or an address range such as 10.0.0.0/8"
            ) from None
        return value
    if not re.fullmatch(_REGISTRY, value):
        raise fail("must be a registry host[:port] or an address range such as 10.0.0.0/8")
    return value


def _check_cron(value: str) -> str:
    # The same reading the scheduler uses at start-up, so what passes here also starts.
    try:
        parse_crontab(value)
    except CrontabError as error:
        raise fail(str(error)) from None
    return value


Name = Annotated[
    str,
    _matching(
        _NAME, "names must be lowercase letters, digits and '-', start with a letter, max 40"
    ),
]
ChannelId = Annotated[str, _matching(_CHANNEL, "must be a Slack channel ID such as C0123ABCD")]
SlackSubject = Annotated[
    str,
    _matching(_SUBJECT, "must be a Slack user ID (U.../W...) or user-group ID (S...), not a name"),
]
VerbName = Annotated[
    str,
    _matching(
        _VERB, "must be a verb, or a verb and its subcommand, such as 'deploy' or 'build cancel'"
    ),
]
Port = Annotated[int, AfterValidator(_check_port)]
PublishAddress = Annotated[str, BeforeValidator(_check_publish)]
Namespace = Annotated[
    str,
    _matching(
        _NAMESPACE,
        "must be lowercase letters, digits and '-', start with a letter, max 24 characters",
    ),
]
NonEmpty = Annotated[str, Field(min_length=1)]
ImageRepository = Annotated[str, AfterValidator(_check_image)]
UrlPath = Annotated[str, _matching(_PATH, "must be a path starting with '/'")]
Crontab = Annotated[str, AfterValidator(_check_cron)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
EnvVarName = Annotated[str, _matching(_ENV_NAME, "must be an environment variable name")]
JiraProjectKey = Annotated[str, _matching(_PROJECT, "must be a Jira project key such as OPS")]
DockerHost = Annotated[str, AfterValidator(_check_docker_host)]
RegistryHost = Annotated[str, _matching(_REGISTRY, "must be a registry host[:port]")]
InsecureRegistry = Annotated[str, AfterValidator(_check_insecure_registry)]
Duration = Annotated[float, BeforeValidator(_to_seconds)]
"""Seconds, written as 15s, 500ms, 30m, 1h, 1d or a whole number of seconds."""
LabelName = Annotated[
    str, _matching(r"[a-zA-Z_][a-zA-Z0-9_]*", "must be a Prometheus label name such as service")
]

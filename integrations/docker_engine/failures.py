"""The one place where what docker-py, requests, urllib3, ssl and paramiko raise becomes
opsloop's error tree (bot/core/errors.py), as httpx maps httpcore's exceptions: every call
to the engine runs inside `engine_call(...)`.

    docker.errors.APIError, 503 "not a swarm manager"   IntegrationError (how to turn it on)
    docker.errors.APIError, any other status            IntegrationError "the engine refused …"
    could not reach the engine (refused, no socket,     EngineUnavailable, saying which:
      TLS, ssh, timeout, unknown host …)                  refused, TLS error, ssh error …

Code that expects an answer such as NotFound catches it inside the `with` block; whatever
escapes the block is a failure and is translated here.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator

import requests
from docker.errors import APIError, DockerException, TLSParameterError
from paramiko.ssh_exception import SSHException

from bot.core.errors import EngineUnavailable, IntegrationError, OpsloopError

NOT_SWARM = (
    "This Docker engine is not in Swarm mode: run "
    "`docker swarm init --advertise-addr 127.0.0.1` on it."
)
NOT_MANAGER = (
    "This Docker engine is in a Swarm but is not a manager, so it cannot run Swarm services: "
    "point docker.host at a manager node."
)
ENGINE_FAILURES = (DockerException, requests.RequestException, OSError, SSHException)
"""Everything a call to the engine can raise for a reason outside opsloop."""


class EngineRefused(IntegrationError):
    """The engine answered, with an error (an HTTP status from its API)."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


@contextlib.contextmanager
def engine_call(where: str, doing: str) -> Iterator[None]:
    """Run the block; an engine failure leaves it as an OpsloopError naming `where` (the
    engine's address) and `doing` ("pull `web:1.0`"). OpsloopErrors pass unchanged."""
    try:
        yield
    except OpsloopError:
        raise
    except ENGINE_FAILURES as error:
        raise translate(error, where, doing) from error


def translate(error: BaseException, where: str, doing: str) -> OpsloopError:
    """What `error`, raised while `doing` on the engine at `where`, means to the user."""
    if isinstance(error, APIError) and error.response is not None:
        status = error.response.status_code
        said = str(error.explanation or error.response.reason or status).strip()
        if status == 503 and "swarm" in said.lower():
            return IntegrationError(NOT_SWARM)
        return EngineRefused(f"The Docker engine refused to {doing}: {said}", status)
    return EngineUnavailable(f"The Docker engine at {where} {why_unreachable(error)}.")


def why_unreachable(error: BaseException) -> str:
    """The reason a connection to the engine failed, in words: the first cause in the
    chain (causes, contexts, urllib3's `reason`) that says more than "it failed"."""
    causes = list(_chain(error))
    for cause in causes:
        reason = _reason(cause)
        if reason is not None:
            return reason
    last = causes[-1]
    return f"could not be reached ({type(last).__name__}: {_short(last)})"


def _reason(error: BaseException) -> str | None:  # noqa: PLR0911 - one answer per kind
    kind = type(error)
    if kind.__module__.startswith("paramiko"):
        return f"could not be reached over ssh ({kind.__name__}: {_short(error)})"
    if isinstance(error, TLSParameterError):
        return f"has unusable TLS settings (DOCKER_CERT_PATH, DOCKER_TLS_VERIFY): {_short(error)}"
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            "presented a certificate that the CA in DOCKER_CERT_PATH does not verify "
            f"(TLS error: {error.verify_message or _short(error)})"
        )
    if isinstance(error, ssl.SSLError):
        return f"failed the TLS handshake ({error.reason or _short(error)})"
    if isinstance(error, ConnectionRefusedError):
        return "refused the connection (nothing listens there, or the engine is stopped)"
    if isinstance(error, FileNotFoundError):
        return "has no socket there (is the engine running?)"
    if isinstance(error, PermissionError):
        return "refused access to its socket (permission denied)"
    if isinstance(error, socket.gaierror):
        return f"has a host name that does not resolve ({_short(error)})"
    if isinstance(error, TimeoutError | requests.Timeout):
        return "did not answer in time"
    if isinstance(error, DockerException) and "Install paramiko" in str(error):
        return "needs the ssh support of the docker package (paramiko) to be installed"
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [e for e in linked if isinstance(e, BaseException)]


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300] if text else type(error).__name__

"""The one error tree opsloop raises on purpose.

    OpsloopError                 a problem the user can be told about in plain words
    ├── UsageError               the command was malformed: wrong arguments, bad value
    ├── NotFound                 an unknown service, environment, version, job ...
    ├── PermissionDenied         the caller may not do this
    ├── NotAvailableYet          the verb is declared but its stage is not built yet
    ├── Conflict                 the request clashes with the current state
    │   ├── LockHeld             the environment is locked by someone else
    │   ├── InvalidTransition    a state machine refused a move
    │   └── LeaseLost            singleton work whose lease another process holds now
    └── IntegrationError         an outside system failed or is out of reach
        ├── StoreUnavailable     the database (PostgreSQL or SQLite) does not answer
        ├── EngineUnavailable    the Docker engine
        ├── RegistryUnavailable  the image registry
        ├── RepositoryUnavailable a service's git repository
        ├── JiraUnavailable      Jira
        └── SlackUnavailable     Slack answered 5xx, or not at all: try again later
            └── RateLimited      Slack answered 429: try again after `retry_after`

The router turns every one of them into a short ephemeral reply in one place. Anything
else is a bug: it is logged with context and the user is told the command failed.
"""

from __future__ import annotations


class OpsloopError(Exception):
    """An error whose message is written for the Slack user who caused it."""

    outcome = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(OpsloopError):
    """The command was malformed; `hint` carries the verb's usage line."""

    outcome = "usage"


class NotFound(OpsloopError):
    """The command named something that does not exist."""

    outcome = "not_found"


class PermissionDenied(OpsloopError):
    """The caller is not allowed to do this."""

    outcome = "denied"


class NotAvailableYet(OpsloopError):
    """The verb is declared, but the stage behind it is not built yet."""

    outcome = "not_available"


class Conflict(OpsloopError):
    """The request clashes with what is happening now."""

    outcome = "conflict"


class LockHeld(Conflict):
    """The environment is locked by someone else."""


class InvalidTransition(Conflict):
    """A run, approval or alert cannot move to the requested state."""


class LeaseLost(Conflict):
    """Singleton work tried to write after its lease ran out or changed hands (fencing):
    the write was refused and nothing changed."""


class IntegrationError(OpsloopError):
    """An outside system failed or could not be reached."""

    outcome = "integration_error"


class StoreUnavailable(IntegrationError):
    """The database does not answer (down, unreachable, restarting): nothing was done."""


class EngineUnavailable(IntegrationError):
    """The Docker engine did not answer."""


class RegistryUnavailable(IntegrationError):
    """The image registry did not answer."""


class JiraUnavailable(IntegrationError):
    """Jira did not answer, or refused the credentials."""


class RepositoryUnavailable(IntegrationError):
    """A service's git repository could not be read."""


class SlackUnavailable(IntegrationError):
    """Slack failed on its side (5xx) or could not be reached: the same call may work later.
    Any other IntegrationError from Slack is a refusal that trying again cannot fix."""


class RateLimited(SlackUnavailable):
    """Slack answered 429: nothing was done, and it asks to wait `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

"""Who may run which verb: roles of Slack users and user groups, declared per verb in
opsloop.yml's `access` section and checked by the router before any handler runs.

A verb with no entry is open to everyone in the workspace. An entry for a verb's first word
(`deploy`) also covers its subcommands (`deploy list`) unless they have an entry of their own.
The `admins` role, when defined, may also cancel anyone's job and force an unlock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial

from bot.core.errors import PermissionDenied
from bot.core.replies import best_effort

ADMINS = "admins"

Members = Callable[[str], Iterable[str]]
"""A user group's member IDs (the Slack directory's usergroups.users.list, cached)."""


def belongs(user: str, subjects: Iterable[str], members: Members) -> bool:
    """Whether `user` is one of `subjects`: named by user ID, or a member of a user group
    (S...) named there."""
    subjects = tuple(subjects)
    if user in subjects:
        return True
    return any(user in set(members(group)) for group in subjects if group.startswith("S"))


@dataclass(frozen=True, slots=True)
class AccessRules:
    """The `access` section: role -> its members, verb -> the roles that may run it."""

    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    verbs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def roles_for(self, verb: str) -> tuple[str, ...] | None:
        """The roles that may run `verb`, or None when everyone may."""
        exact = self.verbs.get(verb)
        if exact is not None:
            return exact
        first = verb.split(" ", maxsplit=1)[0]
        return self.verbs.get(first) if first != verb else None


class Access:
    """Answers whether a person may run a verb, resolving user groups through the directory.
    A directory that fails counts as "not a member": access fails closed."""

    def __init__(self, rules: AccessRules, members: Members) -> None:
        self.rules = rules
        self._members = members

    def has_role(self, user: str, role: str) -> bool:
        """Whether `user` holds `role` (an undefined role is held by nobody)."""
        subjects = self.rules.roles.get(role)
        if not subjects:
            return False
        found = best_effort(
            f"resolve the members of role {role}", partial(belongs, user, subjects, self._members)
        )
        return found is True

    def is_admin(self, user: str) -> bool:
        """Whether `user` holds the `admins` role."""
        return self.has_role(user, ADMINS)

    def may_run(self, user: str, verb: str) -> bool:
        """Whether `user` may run `verb` (a verb's full name, such as "build cancel")."""
        roles = self.rules.roles_for(verb)
        return roles is None or any(self.has_role(user, role) for role in roles)

    def check(self, user: str, verb: str, shown: str) -> None:
        """PermissionDenied naming the role(s) needed when `user` may not run `verb`;
        `shown` is how the user typed the verb (e.g. "/deploy")."""
        if self.may_run(user, verb):
            return
        roles = self.rules.roles_for(verb) or ()
        needed = " or ".join(f"`{role}`" for role in roles)
        raise PermissionDenied(
            f"`{shown}` needs the role {needed} (access.verbs in opsloop.yml); "
            "ask a member of that role to run it, or an admin to add you."
        )


OPEN = Access(AccessRules(), lambda _group: ())
"""Everyone may run everything: for tests and declarations-only builds."""

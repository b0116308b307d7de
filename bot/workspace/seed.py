"""The default sandbox team every new workspace starts with."""

from __future__ import annotations

from bot.workspace.model import BOT_ID, BOT_NAME, BOT_USER_ID, Channel, User, Usergroup
from bot.workspace.state import WorkspaceState


def seed_default(state: WorkspaceState) -> None:
    """Fill ``state`` with the sandbox team: the bot, four people, three channels and
    the ``@approvers`` group (Bob and Carol)."""
    people = [
        User("U0ALICE", "alice", "Alice Anderson", "alice@example.com", title="SRE"),
        User("U0BOB", "bob", "Bob Brown", "bob@example.com", title="Team lead", is_admin=True),
        User("U0CAROL", "carol", "Carol Chen", "carol@example.com", title="Release manager"),
        User("U0DAVE", "dave", "Dave Diaz", "dave@example.com", title="Developer"),
    ]
    state.add_user(User(BOT_USER_ID, BOT_NAME, BOT_NAME, None, is_bot=True, bot_id=BOT_ID))
    for person in people:
        state.add_user(person)
    everyone = [BOT_USER_ID] + [p.id for p in people]
    state.add_channel(Channel("C0OPS", "ops", list(everyone), purpose="Deploys and incidents"))
    state.add_channel(Channel("C0DEV", "dev", list(everyone), purpose="Development chatter"))
    state.add_channel(Channel("C0TEAM", "team", list(everyone), is_general=True))
    state.add_usergroup(Usergroup("S0APPROVERS", "approvers", "Approvers", ["U0BOB", "U0CAROL"]))

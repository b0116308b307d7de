"""The workspace's mutable data (channels, messages, threads, reactions, ephemerals).

Every public method takes the one lock, so HTTP handler threads, the test thread and a
console thread can share a :class:`WorkspaceState`. Failed operations raise
:class:`~bot.workspace.model.SlackError` with the code Slack would answer.
"""

from __future__ import annotations

import copy
import threading
import time

from bot.workspace.changes import ChangeFeed
from bot.workspace.model import (
    BOT_ID,
    BOT_USER_ID,
    Channel,
    Edit,
    Ephemeral,
    JsonDict,
    Message,
    SlackError,
    User,
    Usergroup,
)


class WorkspaceState:
    """Users, channels, usergroups, messages and ephemerals of one workspace."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changes = ChangeFeed(self.lock)
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, Usergroup] = {}
        self._messages: dict[str, dict[str, Message]] = {}
        self._ephemerals: list[Ephemeral] = []
        self.deleted: list[Message] = []
        self._last_us = 0

    # -- directory ---------------------------------------------------------------------
    def add_user(self, user: User) -> User:
        """Add (or replace) a user; new users join no channel by themselves."""
        with self.lock:
            self.users[user.id] = user
            self.changes.bump()
            return user

    def add_channel(self, channel: Channel) -> Channel:
        """Add (or replace) a channel, keeping its existing messages."""
        with self.lock:
            self.channels[channel.id] = channel
            self._messages.setdefault(channel.id, {})
            self.changes.bump()
            return channel

    def direct_channel(self, user_id: str) -> Channel:
        """The app's direct messages with ``user_id`` (a ``D…`` conversation), opened on
        first use, as Slack opens it when the app posts to a user's ID;
        SlackError("user_not_found") for an unknown user."""
        with self.lock:
            user = self.user(user_id)
            channel_id = "D" + user.id[1:]
            found = self.channels.get(channel_id)
            if found is not None:
                return found
            return self.add_channel(
                Channel(channel_id, user.name, [user.id, BOT_USER_ID], is_private=True,
                        im_user=user.id)
            )  # fmt: skip

    def add_usergroup(self, group: Usergroup) -> Usergroup:
        """Add (or replace) a usergroup."""
        with self.lock:
            self.usergroups[group.id] = group
            self.changes.bump()
            return group

    def channel(self, channel_id: str) -> Channel:
        """The channel, or SlackError("channel_not_found")."""
        with self.lock:
            found = self.channels.get(channel_id)
            if found is None:
                raise SlackError("channel_not_found")
            return found

    def user(self, user_id: str) -> User:
        """The user, or SlackError("user_not_found")."""
        with self.lock:
            found = self.users.get(user_id)
            if found is None:
                raise SlackError("user_not_found")
            return found

    # -- messages ----------------------------------------------------------------------
    def next_ts(self) -> str:
        """A fresh message ts ("1700000000.000100" form), strictly increasing."""
        with self.lock:
            self._last_us = max(int(time.time() * 1_000_000), self._last_us + 1)
            return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def find(self, channel_id: str, ts: str) -> Message:
        """The live message object (not a copy); SlackError("message_not_found")."""
        with self.lock:
            msg = self._messages.get(self.channel(channel_id).id, {}).get(ts)
            if msg is None:
                raise SlackError("message_not_found")
            return msg

    def post(
        self,
        channel_id: str,
        user: str,
        text: str,
        *,
        bot: bool = False,
        blocks: list[JsonDict] | None = None,
        attachments: list[JsonDict] | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        files: list[str] | None = None,
        subtype: str | None = None,
        source: str = "chat.postMessage",
        require_member: bool = True,
    ) -> Message:
        """Append a message (a reply when ``thread_ts`` names a message) and return a copy.

        The bot must be a channel member (SlackError("not_in_channel")) unless
        ``require_member`` is False, as for response_url posts.
        """
        with self.lock:
            channel = self.channel(channel_id)
            if bot and require_member and BOT_USER_ID not in channel.members:
                raise SlackError("not_in_channel")
            parent = self._thread_parent(channel_id, thread_ts) if thread_ts else None
            msg = Message(
                ts=self.next_ts(),
                channel=channel_id,
                text=text,
                user=user,
                bot_id=BOT_ID if bot else None,
                blocks=blocks,
                attachments=attachments,
                files=list(files or []),
                subtype=subtype,
                source=source,
            )
            if parent is not None:
                msg.thread_ts = parent.ts
                msg.parent_user = parent.user
                msg.reply_broadcast = reply_broadcast
                if reply_broadcast:
                    msg.subtype = "thread_broadcast"
                parent.thread_ts = parent.ts
                parent.replies.append(msg.ts)
                parent.reply_users.append(user)
            self._messages[channel_id][msg.ts] = msg
            self.changes.bump()
            return copy.deepcopy(msg)

    def _thread_parent(self, channel_id: str, thread_ts: str) -> Message:
        msg = self.find(channel_id, thread_ts)
        # Replying to a reply lands in the same thread, as in Slack.
        if msg.is_reply and msg.thread_ts is not None:
            return self.find(channel_id, msg.thread_ts)
        return msg

    def update(
        self,
        channel_id: str,
        ts: str,
        *,
        text: str | None,
        blocks: list[JsonDict] | None,
        attachments: list[JsonDict] | None,
        by_bot: bool = True,
    ) -> Message:
        """Edit a message in place (recording the edit); copy of the result.

        Only the bot's own messages can be edited by the bot: SlackError("cant_update_message").
        """
        with self.lock:
            msg = self.find(channel_id, ts)
            if by_bot and not msg.is_bot:
                raise SlackError("cant_update_message")
            if text is not None:
                msg.text = text
            if blocks is not None:
                msg.blocks = blocks or None
            if attachments is not None:
                msg.attachments = attachments or None
            msg.edits.append(Edit(at=time.time(), text=msg.text, blocks=msg.blocks))
            self.changes.bump()
            return copy.deepcopy(msg)

    def delete(self, channel_id: str, ts: str, *, by_bot: bool = True) -> Message:
        """Remove a message; a parent with replies stays as a "tombstone" like in Slack."""
        with self.lock:
            msg = self.find(channel_id, ts)
            if by_bot and not msg.is_bot:
                raise SlackError("cant_delete_message")
            self.deleted.append(copy.deepcopy(msg))
            if msg.replies:
                msg.text, msg.blocks, msg.attachments = "This message was deleted.", None, None
                msg.subtype, msg.bot_id, msg.user = "tombstone", None, "USLACKBOT"
            else:
                del self._messages[channel_id][ts]
                if msg.is_reply and msg.thread_ts is not None:
                    parent = self._messages[channel_id].get(msg.thread_ts)
                    if parent is not None and ts in parent.replies:
                        index = parent.replies.index(ts)
                        parent.replies.pop(index)
                        parent.reply_users.pop(index)
            self.changes.bump()
            return copy.deepcopy(msg)

    def react(self, channel_id: str, ts: str, name: str, user: str) -> Message:
        """Add ``user``'s reaction; SlackError("already_reacted") on a repeat."""
        with self.lock:
            msg = self.find(channel_id, ts)
            users = msg.reactions.setdefault(name, [])
            if user in users:
                raise SlackError("already_reacted")
            users.append(user)
            self.changes.bump()
            return copy.deepcopy(msg)

    def unreact(self, channel_id: str, ts: str, name: str, user: str) -> Message:
        """Remove ``user``'s reaction; SlackError("no_reaction") if there is none."""
        with self.lock:
            msg = self.find(channel_id, ts)
            users = msg.reactions.get(name, [])
            if user not in users:
                raise SlackError("no_reaction")
            users.remove(user)
            if not users:
                del msg.reactions[name]
            self.changes.bump()
            return copy.deepcopy(msg)

    def message(self, channel_id: str, ts: str) -> Message | None:
        """A copy of the message, or None."""
        with self.lock:
            msg = self._messages.get(channel_id, {}).get(ts)
            return copy.deepcopy(msg) if msg else None

    def timeline(self, channel_id: str, *, include_replies: bool = False) -> list[Message]:
        """Copies of the channel's messages, oldest first (replies only when asked,
        except broadcast replies, which Slack also shows in the channel)."""
        with self.lock:
            msgs = self._messages.get(self.channel(channel_id).id, {}).values()
            return [
                copy.deepcopy(m)
                for m in msgs
                if include_replies or not m.is_reply or m.reply_broadcast
            ]

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        """Copies of the parent and its replies, oldest first."""
        with self.lock:
            parent = self._thread_parent(channel_id, ts)
            chan = self._messages[channel_id]
            return [copy.deepcopy(parent)] + [copy.deepcopy(chan[r]) for r in parent.replies]

    # -- ephemerals --------------------------------------------------------------------
    def post_ephemeral(
        self,
        channel_id: str,
        user: str,
        text: str,
        *,
        blocks: list[JsonDict] | None = None,
        thread_ts: str | None = None,
        source: str = "chat.postEphemeral",
        require_member: bool = True,
    ) -> Ephemeral:
        """Show a message to ``user`` only; SlackError("user_not_in_channel") if absent."""
        with self.lock:
            channel = self.channel(channel_id)
            if require_member and user not in channel.members:
                raise SlackError("user_not_in_channel")
            eph = Ephemeral(self.next_ts(), channel_id, user, text, blocks, thread_ts, source)
            self._ephemerals.append(eph)
            self.changes.bump()
            return copy.deepcopy(eph)

    def find_ephemeral(self, ts: str) -> Ephemeral:
        """The live ephemeral message with this ts; SlackError("message_not_found")."""
        with self.lock:
            for eph in self._ephemerals:
                if eph.ts == ts and not eph.deleted:
                    return eph
            raise SlackError("message_not_found")

    def replace_ephemeral(self, ts: str, text: str, blocks: list[JsonDict] | None) -> Ephemeral:
        """Replace an ephemeral message's content in place (Slack's replace_original)."""
        with self.lock:
            eph = self.find_ephemeral(ts)
            eph.text, eph.blocks = text, blocks
            eph.edits.append(Edit(at=time.time(), text=text, blocks=blocks))
            self.changes.bump()
            return copy.deepcopy(eph)

    def delete_ephemeral(self, ts: str) -> None:
        """Hide an ephemeral message (Slack's delete_original)."""
        with self.lock:
            self.find_ephemeral(ts).deleted = True
            self.changes.bump()

    def ephemerals(self, channel_id: str | None = None, user: str | None = None) -> list[Ephemeral]:
        """Copies of visible ephemeral messages, oldest first, optionally filtered."""
        with self.lock:
            return [
                copy.deepcopy(e)
                for e in self._ephemerals
                if not e.deleted
                and (channel_id is None or e.channel == channel_id)
                and (user is None or e.user == user)
            ]

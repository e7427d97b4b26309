"""Who may read which channel: a registry of channel authorizers, one per channel prefix.

`realtime/` never imports a domain. Each domain hands the composition root an authorizer::

    async def can_read_family(actor: Actor, family_id: str) -> bool: ...

    services.channel_authorizers.register_channel_authorizer(
        "family", can_read_family, presence=True,
        recheck_on={"family.member_removed", "family.member_left", "family.deleted"},
    )

- `prefix` is the part before the colon (`family` for `family:{id}`); the callable gets the
  `Actor` and the part after the colon, and answers `True` only for members.
- `presence=True` turns on presence (heartbeats, `presence` frames, `GET /api/v1/presence/...`).
- `recheck_on`: event types on that channel after which every subscriber is re-authorized;
  a subscriber who is no longer allowed gets `unsubscribed {reason: "forbidden"}` right after
  that event and nothing later.
- An authorizer that raises counts as "no" (and is logged).

- `scope`: the API-token scope a token's actor also needs (e.g. `families:read`); every
  channel of a token's actor needs `realtime:subscribe` too (a login session needs none).

`user:{id}` is built in: only that user may read it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from server.core.actor import Actor
from server.core.channels import USER, split_channel

log = logging.getLogger("realtime.authorizers")

ChannelAuthorizer = Callable[[Actor, str], Awaitable[bool]]

SUBSCRIBE_SCOPE = "realtime:subscribe"


@dataclass(frozen=True, slots=True)
class ChannelKind:
    prefix: str
    authorize: ChannelAuthorizer
    presence: bool = False
    recheck_on: frozenset[str] = field(default_factory=frozenset)
    scope: str | None = None


async def _own_user_channel(actor: Actor, user_id: str) -> bool:
    return user_id == str(actor.user_id)


class ChannelAuthorizers:
    def __init__(self) -> None:
        self._kinds: dict[str, ChannelKind] = {}
        self.register_channel_authorizer(USER, _own_user_channel)

    def register_channel_authorizer(
        self,
        prefix: str,
        fn: ChannelAuthorizer,
        *,
        presence: bool = False,
        recheck_on: Iterable[str] = (),
        scope: str | None = None,
    ) -> None:
        prefix = prefix.rstrip(":")
        if not prefix or ":" in prefix:
            raise ValueError(f"bad channel prefix {prefix!r}")
        self._kinds[prefix] = ChannelKind(prefix, fn, presence, frozenset(recheck_on), scope)

    # Short alias for the composition root.
    register = register_channel_authorizer

    def kind(self, channel: str) -> ChannelKind | None:
        try:
            prefix, _ = split_channel(channel)
        except ValueError:
            return None
        return self._kinds.get(prefix)

    async def authorize(self, actor: Actor, channel: str) -> bool:
        kind = self.kind(channel)
        if kind is None:
            return False
        if not actor.allows_scope(SUBSCRIBE_SCOPE) or (
            kind.scope is not None and not actor.allows_scope(kind.scope)
        ):
            return False  # an API token without the scopes for this channel
        _, ident = split_channel(channel)
        try:
            return bool(await kind.authorize(actor, ident))
        except Exception:
            log.exception("channel authorizer failed", extra={"channel": channel})
            return False

    def has_presence(self, channel: str) -> bool:
        kind = self.kind(channel)
        return kind is not None and kind.presence

    def recheck_on(self, channel: str) -> frozenset[str]:
        kind = self.kind(channel)
        return frozenset() if kind is None else kind.recheck_on

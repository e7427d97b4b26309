"""Real-time channel names: the one place they are built and parsed.

A channel is `<kind>:<id>`: `user:<userId>`, `family:<familyId>`, `workspace:<workspaceId>`.
Publishers, the real-time gateway and its authorizers all go through these helpers, so a
rename or a new kind is one edit here.
"""

from __future__ import annotations

USER = "user"
FAMILY = "family"
WORKSPACE = "workspace"
GROUP_KINDS = frozenset({FAMILY, WORKSPACE})


def channel(kind: str, ident: object) -> str:
    """`kind:ident` for any registered channel kind."""
    return f"{kind}:{ident}"


def user_channel(user_id: object) -> str:
    return channel(USER, user_id)


def group_channel(kind: str, group_id: object) -> str:
    """The channel of a family or a workspace."""
    if kind not in GROUP_KINDS:
        raise ValueError(f"not a group kind: {kind!r}")
    return channel(kind, group_id)


def owner_channel(owner_type: str, owner_id: object) -> str | None:
    """The channel of an account's owner (`None` for system accounts, which have none)."""
    if owner_type == USER:
        return user_channel(owner_id)
    if owner_type in GROUP_KINDS:
        return channel(owner_type, owner_id)
    return None


def split_channel(name: str) -> tuple[str, str]:
    """`("family", "<id>")` from `"family:<id>"`; `ValueError` if it is not a channel name."""
    prefix, sep, ident = name.partition(":")
    if not sep or not prefix or not ident:
        raise ValueError(f"not a channel name: {name!r}")
    return prefix, ident

"""The verify-action harness (Zulip's idea) for families and workspaces (not a test module).

For one action: fetch the group's state as a viewer, remember every watched channel's
offset, run the action, read the events it published, check each payload against the
published schema (`EVENT_TYPES`), check nobody outside the group heard anything, apply the
group channel's events to the state fetched before, and compare with a fresh fetch.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import msgspec

from server.families.events import EVENT_TYPES as FAMILY_EVENTS
from server.notifications.events import EVENT_TYPES as NOTIFICATION_EVENTS
from server.wallet.events import EVENT_TYPES as WALLET_EVENTS
from server.workspaces.events import EVENT_TYPES as WORKSPACE_EVENTS
from tests.helpers import services, settled
from tests.integration.groups_support import BASES

SCHEMAS: dict[str, type] = {
    **FAMILY_EVENTS,
    **WORKSPACE_EVENTS,
    **WALLET_EVENTS,
    **NOTIFICATION_EVENTS,
}


def check_schema(event: dict[str, Any]) -> None:
    """The payload decodes into its Struct and carries exactly the Struct's fields."""
    struct = SCHEMAS.get(event["type"])
    assert struct is not None, f"unlisted event type {event['type']}"
    msgspec.json.decode(json.dumps(event["data"]).encode(), type=struct)
    fields = set(struct.__struct_encode_fields__)  # type: ignore[attr-defined]
    assert set(event["data"]) == fields, (event["type"], set(event["data"]) ^ fields)


def by(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


class Verifier:
    def __init__(
        self,
        client: httpx.AsyncClient,
        kind: str,
        group_id: str,
        viewer: dict[str, Any],
        insiders: list[dict[str, Any]],
        outsiders: list[str],
    ) -> None:
        self.client = client
        self.kind = kind
        self.base = f"{BASES[kind]}/{group_id}"
        self.group_channel = f"{kind}:{group_id}"
        self.viewer = viewer
        self.insiders = insiders
        self.outsiders = outsiders  # channels of people and groups that must hear nothing
        self.log: list[str] = []

    async def _get(self, path: str) -> Any:
        response = await self.client.get(self.base + path, headers=self.viewer["headers"])
        assert response.status_code == 200, response.text
        return response.json()

    async def _list(self, path: str) -> list[Any]:
        page = await self._get(path)
        assert page["nextCursor"] is None, "more than one page"
        return page["items"]  # type: ignore[no-any-return]

    async def state(self) -> dict[str, Any]:
        group = await self._get("")
        group.pop("myRole")
        wallet = await self._get("/wallet")
        state = {
            "group": group,
            "members": by(await self._list("/members"), "userId"),
            "invitations": by(await self._list("/invitations"), "id"),
            "wallet": {
                "balance": wallet["balance"],
                "frozen": wallet["frozen"],
                "frozenReason": wallet["frozenReason"],
                "members": by(wallet["members"], "userId"),
            },
            "requests": by(await self._list("/token-requests"), "id"),
            "votes": by(await self._list("/emergency-unfreeze"), "id"),
        }
        if self.kind == "family":
            state["relationships"] = sorted(
                (r["userId"], r["relatedUserId"], r["relationship"])
                for r in await self._list("/relationships")
            )
        return state

    def apply(self, state: dict[str, Any], event: dict[str, Any]) -> None:
        kind, (noun, verb), data = self.kind, event["type"].split(".", 1), event["data"]
        wallet = state["wallet"]
        if noun == kind and verb in ("updated", "created"):
            state["group"] = data["group"]
            wallet["frozen"], wallet["frozenReason"] = (
                data["group"]["frozen"],
                data["group"]["frozenReason"],
            )
        elif noun == kind and verb in (
            "member_joined",
            "member_role_changed",
            "backup_admin_changed",
        ):
            uid = data["member"]["userId"]
            state["members"][uid] = data["member"]
            wallet["members"][uid] = data["permissions"]
            state["group"]["memberCount"] = data["memberCount"]
        elif noun == kind and verb == "member_removed":
            uid = data["userId"]
            state["members"].pop(uid, None)
            wallet["members"].pop(uid, None)
            state["group"]["memberCount"] = data["memberCount"]
            if "relationships" in state:
                state["relationships"] = [r for r in state["relationships"] if uid not in r[:2]]
        elif noun == kind and verb.startswith("invitation_"):
            state["invitations"][data["invitation"]["id"]] = data["invitation"]
        elif noun == kind and verb == "permissions_changed":
            wallet["members"][data["member"]["userId"]] = data["member"]
        elif noun == kind and verb == "wallet_spent":
            wallet["balance"] = data["balance"]
            wallet["members"][data["spenderId"]]["periodSpent"] = data["periodSpent"]
        elif noun == kind and verb == "relationship_changed":
            pair = {data["userId"], data["relatedUserId"]}
            rels = [r for r in state["relationships"] if set(r[:2]) != pair]
            rels.append((data["userId"], data["relatedUserId"], data["relationship"]))
            rels.append((data["relatedUserId"], data["userId"], data["inverse"]))
            state["relationships"] = sorted(rels)
        elif noun == kind and verb == "ownership_transferred":
            state["group"]["ownerId"] = data["ownerId"]
        elif noun == "wallet" and verb == "transfer_completed":
            wallet["balance"] = data["balance"]
        elif noun == "wallet" and verb in ("frozen", "unfrozen"):
            wallet["frozen"], wallet["frozenReason"] = data["frozen"], data["reason"]
        elif noun in ("token_request", "purchase_request"):
            request = data["request"]
            state["requests"][request["id"]] = request
            if verb == "approved" and request["autoApproved"]:
                # Paid at once: it came out of the requester's monthly budget (issue 15, F1).
                wallet["members"][request["requesterId"]]["autoApproveRemaining"] -= request[
                    "amount"
                ]
        elif noun == "emergency_unfreeze":
            state["votes"][data["vote"]["id"]] = data["vote"]
        else:
            raise AssertionError(f"the harness does not know how to apply {event['type']}")

    async def check(
        self, name: str, action: Callable[[], Awaitable[httpx.Response]]
    ) -> dict[str, list[dict[str, Any]]]:
        bus = services(self.client).bus
        channels = [self.group_channel, *(f"user:{p['id']}" for p in self.insiders)]
        channels += self.outsiders
        positions = {ch: (await bus.position(ch))[1] for ch in channels}
        before = await self.state()
        response = await action()
        assert response.status_code < 300, (name, response.text)
        await settled(self.client)  # post-commit work (wallet notifications) included
        heard = {
            ch: [json.loads(raw) for raw in await bus.read_since(ch, positions[ch])]
            for ch in channels
        }
        for ch in self.outsiders:
            assert heard[ch] == [], (name, ch, heard[ch])
        for events in heard.values():
            for event in events:
                check_schema(event)
        assert heard[self.group_channel], f"{name} published nothing to the group"
        expected = copy.deepcopy(before)
        for event in heard[self.group_channel]:
            self.apply(expected, event)
        after = await self.state()
        assert expected == after, name
        self.log.append(name)
        return heard


async def checked_events(client: httpx.AsyncClient, channel: str, since: int) -> list[str]:
    """The types of the events on `channel` after offset `since`, each schema-checked."""
    events = [json.loads(raw) for raw in await services(client).bus.read_since(channel, since)]
    for event in events:
        check_schema(event)
    return [e["type"] for e in events]

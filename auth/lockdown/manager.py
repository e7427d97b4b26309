"""Lockdown: with it on, a login (password or passkey, after every factor passed) from an IP
or device the user does not trust is refused, and the user gets an e-mail with two
single-use links: "allow once" (valid 15 minutes, lets that IP + device in once) and
"trust this" (valid 60 minutes, adds them to the trusted lists). Using one kills the other.

Turning lockdown on or off, or changing the trusted IPs, is confirmed by an e-mailed link.
Devices are recognised by their user agent (hashed); IPs come from `ClientContext`, which
believes `X-Forwarded-For` only from configured trusted proxies.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from auth.documents import User
from auth.email.outbox import Outbox
from auth.lockdown.documents import LockdownState, TrustedDevice
from auth.lockdown.schemas import (
    LockdownChangeRequest,
    LockdownTokenRequest,
    LockdownView,
    TrustedDeviceView,
)
from auth.onetime import OneTimeTokens
from auth.scopes import require_full_session
from auth.stepup import require_recent_auth
from server.core.actor import Actor
from server.core.clock import utcnow
from server.core.errors import Forbidden, NotFound, RateLimited, Unprocessable
from server.core.ids import stored_id
from server.core.wire import validate

if TYPE_CHECKING:
    from auth.manager import AuthManager, ClientContext

ALLOW_ONCE_TTL = 15 * 60
TRUST_TTL = 60 * 60
CONFIRM_TTL = 60 * 60
BLOCKED_MAILS_PER_HOUR = 5


def ua_hash(user_agent: str | None) -> str:
    return hashlib.sha256((user_agent or "").encode()).hexdigest()


def _ip_allowed(ip: str | None, networks: list[str]) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for entry in networks:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _normalise_networks(values: list[str]) -> list[str]:
    out: list[str] = []
    problems: list[dict[str, Any]] = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            problems.append({"field": "trustedIps", "message": f"not an IP or network: {value}"})
    if problems:
        raise Unprocessable("Some trusted IPs are not valid.", details=problems)
    return sorted(set(out))


def _view(state: LockdownState | None) -> LockdownView:
    if state is None:
        return LockdownView(enabled=False, trusted_ips=[], trusted_devices=[])
    return LockdownView(
        enabled=state.enabled,
        trusted_ips=state.trusted_ips,
        trusted_devices=[
            TrustedDeviceView(id=d.id, label=d.label, added_at=d.added_at)
            for d in state.trusted_devices
        ],
    )


class LockdownManager:
    def __init__(
        self, *, auth: AuthManager, redis: Redis, outbox: Outbox, tokens: OneTimeTokens
    ) -> None:
        self._auth = auth
        self._redis = redis
        self._outbox = outbox
        self._tokens = tokens

    async def status(self, actor: Actor) -> LockdownView:
        require_full_session(actor)  # API tokens never reach account security (agents too)
        return _view(await LockdownState.find_one(LockdownState.user_id == actor.user_id))

    async def request_change(self, actor: Actor, cmd: LockdownChangeRequest) -> None:
        cmd = validate(cmd)
        require_recent_auth(actor)
        user = await self._auth.get_user(actor)
        ips = _normalise_networks(cmd.trusted_ips) if cmd.trusted_ips is not None else None
        state = await LockdownState.find_one(LockdownState.user_id == actor.user_id)
        has_trust = bool(
            ips
            or cmd.trust_current_device
            or (state and (state.trusted_ips or state.trusted_devices))
        )
        if cmd.enabled and not has_trust:
            raise Unprocessable(
                "Trust at least one IP or this device before turning lockdown on.",
                code="LOCKDOWN_NOTHING_TRUSTED",
                details=[{"field": "trustedIps", "message": "nothing trusted"}],
            )
        device = (
            {"ua_hash": ua_hash(actor.user_agent), "label": (actor.user_agent or "unknown")[:120]}
            if cmd.trust_current_device
            else None
        )
        token = await self._tokens.issue(
            "lockdown_confirm",
            user.id,
            CONFIRM_TTL,
            data={"enabled": cmd.enabled, "trusted_ips": ips, "device": device},
        )
        await self._outbox.enqueue(
            "lockdown_confirm",
            user.email,
            {
                "username": user.username,
                "state": "on" if cmd.enabled else "off",
                "link": self._outbox.link("/lockdown/confirm", token),
            },
            user_id=user.id,
        )
        await self._auth.audit.record(
            "lockdown.change_requested",
            actor=actor,
            data={"enabled": cmd.enabled, "trustedIps": ips, "trustDevice": bool(device)},
        )

    async def confirm(self, cmd: LockdownTokenRequest) -> LockdownView:
        cmd = validate(cmd)
        token = await self._tokens.consume("lockdown_confirm", cmd.token)
        update: dict[str, Any] = {"enabled": bool(token.data["enabled"]), "updated_at": utcnow()}
        if token.data.get("trusted_ips") is not None:
            update["trusted_ips"] = token.data["trusted_ips"]
        ops: dict[str, Any] = {"$set": update}
        device = token.data.get("device")
        if device:
            ops["$push"] = {"trusted_devices": self._device(device).model_dump()}
        await LockdownState.get_pymongo_collection().update_one(
            {"user_id": token.user_id}, ops, upsert=True
        )
        await self._auth.audit.record(
            "lockdown.enabled" if update["enabled"] else "lockdown.disabled",
            user_id=token.user_id,
            data={"trustedIps": update.get("trusted_ips"), "trustedDevice": bool(device)},
        )
        return _view(await LockdownState.find_one(LockdownState.user_id == token.user_id))

    @staticmethod
    def _device(device: dict[str, Any]) -> TrustedDevice:
        return TrustedDevice(
            id=secrets.token_hex(8), ua_hash=device["ua_hash"], label=device["label"]
        )

    async def remove_device(self, actor: Actor, device_id: str) -> None:
        require_recent_auth(actor)
        result = await LockdownState.get_pymongo_collection().update_one(
            {"user_id": actor.user_id, "trusted_devices.id": device_id},
            {"$pull": {"trusted_devices": {"id": device_id}}, "$set": {"updated_at": utcnow()}},
        )
        if result.modified_count != 1:
            raise NotFound("No such trusted device.", code="DEVICE_NOT_FOUND")
        await self._auth.audit.record(
            "lockdown.device_removed", actor=actor, data={"deviceId": device_id}
        )

    # ------------------------------------------------------------------ the login guard

    @staticmethod
    def _grant_key(user_id: Any, ip: str | None, agent_hash: str) -> str:
        digest = hashlib.sha256(f"{ip}|{agent_hash}".encode()).hexdigest()[:32]
        return f"lockdown:allow:{user_id}:{digest}"

    async def check_login(self, user: User, auth_method: str, ctx: ClientContext) -> None:
        state = await LockdownState.find_one(LockdownState.user_id == user.id)
        if state is None or not state.enabled:
            return
        agent = ua_hash(ctx.user_agent)
        if _ip_allowed(ctx.ip, state.trusted_ips) or any(
            d.ua_hash == agent for d in state.trusted_devices
        ):
            return
        if await self._redis.getdel(self._grant_key(user.id, ctx.ip, agent)):
            await self._auth.audit.record(
                "lockdown.allowed_login", user_id=user.id, ip=ctx.ip, user_agent=ctx.user_agent
            )
            return
        await self._auth.audit.record(
            "login.blocked",
            user_id=user.id,
            ip=ctx.ip,
            user_agent=ctx.user_agent,
            auth_method=auth_method,
        )
        try:
            await self._auth.limits.hit(
                "lockdown-mail", str(user.id), limit=BLOCKED_MAILS_PER_HOUR, window=3600
            )
        except RateLimited:
            pass  # Still refused; just no more mail this hour.
        else:
            await self._mail_links(user, ctx, agent)
        raise Forbidden(
            "Lockdown is on and this IP or device is not trusted. Check your e-mail.",
            code="LOGIN_BLOCKED",
        )

    async def _mail_links(self, user: User, ctx: ClientContext, agent: str) -> None:
        group = uuid.uuid4().hex
        data = {"ip": ctx.ip, "ua_hash": agent, "label": (ctx.user_agent or "unknown")[:120]}
        uid = stored_id(user.id)
        allow = await self._tokens.issue(
            "lockdown_allow", uid, ALLOW_ONCE_TTL, data=data, group=group, replace_previous=False
        )
        trust = await self._tokens.issue(
            "lockdown_trust", uid, TRUST_TTL, data=data, group=group, replace_previous=False
        )
        await self._outbox.enqueue(
            "lockdown_blocked",
            user.email,
            {
                "username": user.username,
                "ip": ctx.ip or "unknown",
                "device": data["label"],
                "when": utcnow().strftime("%Y-%m-%d %H:%M UTC"),
                "allow_link": self._outbox.link("/lockdown/allow", allow),
                "trust_link": self._outbox.link("/lockdown/trust", trust),
            },
            user_id=user.id,
        )

    async def allow_once(self, cmd: LockdownTokenRequest) -> None:
        cmd = validate(cmd)
        token = await self._tokens.consume("lockdown_allow", cmd.token)
        key = self._grant_key(token.user_id, token.data.get("ip"), token.data["ua_hash"])
        await self._redis.set(key, "1", ex=ALLOW_ONCE_TTL)
        await self._auth.audit.record(
            "lockdown.allow_once", user_id=token.user_id, data={"ip": token.data.get("ip")}
        )

    async def trust(self, cmd: LockdownTokenRequest) -> None:
        cmd = validate(cmd)
        token = await self._tokens.consume("lockdown_trust", cmd.token)
        ops: dict[str, Any] = {
            "$push": {"trusted_devices": self._device(token.data).model_dump()},
            "$set": {"updated_at": utcnow()},
        }
        if token.data.get("ip"):
            ops["$addToSet"] = {"trusted_ips": str(ipaddress.ip_network(token.data["ip"]))}
        await LockdownState.get_pymongo_collection().update_one({"user_id": token.user_id}, ops)
        await self._auth.audit.record(
            "lockdown.trusted", user_id=token.user_id, data={"ip": token.data.get("ip")}
        )

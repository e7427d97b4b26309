"""Pure wallet rules: amounts, idempotency keys and fingerprints, reward signatures."""

from __future__ import annotations

import pytest

from server.core.channels import owner_channel
from server.core.errors import BadRequest
from server.wallet.idempotency import check_key, fingerprint
from server.wallet.ledger import InvalidAmount, check_amount
from server.wallet.rewards import sign, signature_valid
from server.wallet.schemas import TransferRequest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("amount", [1, 42, 10**12])
def test_valid_amounts(amount):
    assert check_amount(amount) == amount


@pytest.mark.parametrize("amount", [0, -1, 10**12 + 1, 1.0, 0.5, "3", True, None])
def test_invalid_amounts(amount):
    with pytest.raises(InvalidAmount):
        check_amount(amount)


def test_idempotency_key_rules():
    assert check_key("  abc-123  ") == "abc-123"
    for bad in (None, "", "   ", "a b", "k" * 256, "é"):
        with pytest.raises(BadRequest):
            check_key(bad)


def test_fingerprint_depends_on_scope_and_every_parameter_only():
    a = TransferRequest(to={"username": "bob"}, amount=5, memo="hi")  # type: ignore[arg-type]
    same = TransferRequest(to={"username": "bob"}, amount=5, memo="hi")  # type: ignore[arg-type]
    other = TransferRequest(to={"username": "bob"}, amount=6, memo="hi")  # type: ignore[arg-type]
    assert fingerprint("wallet.transfer", a) == fingerprint("wallet.transfer", same)
    assert fingerprint("wallet.transfer", a) != fingerprint("wallet.transfer", other)
    assert fingerprint("wallet.transfer", a) != fingerprint("wallet.mint", a)
    assert fingerprint("s", {"b": 1, "a": 2}) == fingerprint("s", {"a": 2, "b": 1})


def test_reward_signature():
    body = b'{"eventId":"e1","amount":5,"username":"bob"}'
    header = sign("secret", body)
    assert header.startswith("sha256=")
    assert signature_valid("secret", body, header)
    assert signature_valid("secret", body, header.removeprefix("sha256="))
    assert not signature_valid("secret", body + b" ", header)
    assert not signature_valid("other", body, header)
    assert not signature_valid("", body, header)
    assert not signature_valid("secret", body, None)


def test_owner_channels():
    assert owner_channel("user", "u1") == "user:u1"
    assert owner_channel("family", "f1") == "family:f1"
    assert owner_channel("workspace", "w1") == "workspace:w1"
    assert owner_channel("system", "x") is None


def test_event_types_are_registered():
    from server.shop.events import EVENT_TYPES as SHOP_EVENTS
    from server.wallet.events import EVENT_TYPES as WALLET_EVENTS

    assert set(WALLET_EVENTS) == {"wallet.transfer_completed", "wallet.frozen", "wallet.unfrozen"}
    assert set(SHOP_EVENTS) == {"shop.purchase_completed", "shop.rental_expired"}


async def test_account_locks_serialise_overlapping_movements_and_clean_up():
    import asyncio

    from server.wallet.locks import KeyedLocks

    locks = KeyedLocks()
    inside: list[str] = []
    log: list[tuple[str, str]] = []

    async def move(name: str, *keys: str) -> None:
        async with locks.hold(*keys):
            inside.append(name)
            assert len([n for n in inside if n in {"ab", "ba"}]) <= 1
            log.append(("in", name))
            await asyncio.sleep(0.01)
            inside.remove(name)

    # "ab" and "ba" share both accounts (opposite order: no deadlock); "cd" is independent.
    await asyncio.wait_for(
        asyncio.gather(move("ab", "a", "b"), move("ba", "b", "a"), move("cd", "c", "d")), 5
    )
    assert {name for _, name in log} == {"ab", "ba", "cd"}
    assert len(locks) == 0

"""TOTP 2FA over HTTP, with codes computed by the test's own RFC 6238 implementation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from auth.audit.documents import AuditRecord
from auth.totp.documents import TotpCredential
from tests.helpers import PASSWORD, assert_error, register
from tests.security_support import code_for_offset

pytestmark = pytest.mark.integration

LOGIN = "/api/v1/auth/login"


async def enable_totp(client, user) -> tuple[str, list[str], str]:
    """Turn 2FA on; returns the secret, the backup codes and the code used to confirm."""
    setup = await client.post("/api/v1/auth/totp/setup", headers=user["headers"])
    assert setup.status_code == 200, setup.text
    body = setup.json()
    assert body["otpauthUri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauthUri"]
    assert body["qrSvg"].startswith("<svg")
    code = code_for_offset(body["secret"], 0)
    confirm = await client.post(
        "/api/v1/auth/totp/confirm", json={"code": code}, headers=user["headers"]
    )
    assert confirm.status_code == 200, confirm.text
    backup = confirm.json()["backupCodes"]
    assert len(backup) == 10
    return body["secret"], backup, code


async def test_login_needs_a_code_and_a_step_is_accepted_once(client):
    user = await register(client)
    name = user["user"]["username"]
    secret, _, confirm_code = await enable_totp(client, user)

    missing = await client.post(LOGIN, json={"login": name, "password": PASSWORD})
    assert_error(missing, 401, "TOTP_REQUIRED")
    # The step used to confirm cannot be used again.
    replay = await client.post(
        LOGIN, json={"login": name, "password": PASSWORD, "totpCode": confirm_code}
    )
    assert_error(replay, 401, "TOTP_REPLAYED")
    # The next step (within the ±1 tolerance) works once.
    code = code_for_offset(secret, 1)
    ok = await client.post(LOGIN, json={"login": name, "password": PASSWORD, "totpCode": code})
    assert ok.status_code == 200, ok.text
    again = await client.post(LOGIN, json={"login": name, "password": PASSWORD, "totpCode": code})
    assert_error(again, 401, "TOTP_REPLAYED")
    far = await client.post(
        LOGIN, json={"login": name, "password": PASSWORD, "totpCode": code_for_offset(secret, 3)}
    )
    assert_error(far, 401, "INVALID_TOTP")
    events = [r.event async for r in AuditRecord.find(AuditRecord.event == "login.failed")]
    assert len(events) == 3


async def test_backup_codes_are_single_use_and_wrong_password_still_fails(client):
    user = await register(client)
    name = user["user"]["username"]
    _, backup, _ = await enable_totp(client, user)
    wrong_pw = await client.post(
        LOGIN, json={"login": name, "password": "not the password!", "backupCode": backup[0]}
    )
    assert_error(wrong_pw, 401, "INVALID_CREDENTIALS")
    ok = await client.post(
        LOGIN, json={"login": name, "password": PASSWORD, "backupCode": backup[0].upper()}
    )
    assert ok.status_code == 200, ok.text
    again = await client.post(
        LOGIN, json={"login": name, "password": PASSWORD, "backupCode": backup[0]}
    )
    assert_error(again, 401, "INVALID_BACKUP_CODE")
    status = await client.get("/api/v1/auth/totp", headers=user["headers"])
    assert status.json() == {"enabled": True, "backupCodesLeft": 9}


async def test_secret_is_encrypted_at_rest_and_keys_rotate(app_factory):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    async with app_factory(totp_encryption_keys=[old_key]) as client:
        user = await register(client)
        secret, _, _ = await enable_totp(client, user)
        stored = await TotpCredential.find_one(TotpCredential.user_id != None)  # noqa: E711
        assert stored is not None and secret not in stored.secret_enc
        assert Fernet(old_key.encode()).decrypt(stored.secret_enc.encode()).decode() == secret
        db = client.app.state["settings"].mongodb_db
    # The new key goes first; the old one still decrypts until everything is re-encrypted.
    async with app_factory(totp_encryption_keys=[new_key, old_key], mongodb_db=db) as client:
        name = user["user"]["username"]
        rotated = await client.app.state["services"].totp.rotate_keys()
        assert rotated == 1
        stored = await TotpCredential.find_one(TotpCredential.user_id != None)  # noqa: E711
        assert Fernet(new_key.encode()).decrypt(stored.secret_enc.encode()).decode() == secret
        ok = await client.post(
            LOGIN,
            json={"login": name, "password": PASSWORD, "totpCode": code_for_offset(secret, 1)},
        )
        assert ok.status_code == 200, ok.text


async def test_disable_regenerate_and_bad_input(client):
    user = await register(client)
    name = user["user"]["username"]
    secret, old_backup, _ = await enable_totp(client, user)
    again = await client.post("/api/v1/auth/totp/setup", headers=user["headers"])
    assert_error(again, 409, "TOTP_ALREADY_ENABLED")
    for body in ({"code": "12345"}, {"code": "abcdef"}, {"code": 123456}, {"code": "1", "x": 1}):
        bad = await client.post("/api/v1/auth/totp/confirm", json=body, headers=user["headers"])
        assert_error(bad, 422, "VALIDATION_ERROR")
    both = await client.post(
        "/api/v1/auth/totp/disable",
        json={"code": code_for_offset(secret, 1), "password": PASSWORD},
        headers=user["headers"],
    )
    assert_error(both, 422)
    regen = await client.post(
        "/api/v1/auth/totp/backup-codes",
        json={"code": code_for_offset(secret, 1)},
        headers=user["headers"],
    )
    assert regen.status_code == 200, regen.text
    new_backup = regen.json()["backupCodes"]
    dead = await client.post(
        LOGIN, json={"login": name, "password": PASSWORD, "backupCode": old_backup[1]}
    )
    assert_error(dead, 401, "INVALID_BACKUP_CODE")
    wrong = await client.post(
        "/api/v1/auth/totp/disable", json={"password": "wrong password!!"}, headers=user["headers"]
    )
    assert_error(wrong, 400, "WRONG_PASSWORD")
    assert await TotpCredential.count() == 1
    off = await client.post(
        "/api/v1/auth/totp/disable", json={"password": PASSWORD}, headers=user["headers"]
    )
    assert off.status_code == 204, off.text
    plain = await client.post(LOGIN, json={"login": name, "password": PASSWORD})
    assert plain.status_code == 200
    assert new_backup and await TotpCredential.count() == 0
    events = {r.event async for r in AuditRecord.find()}
    assert {"totp.enabled", "totp.disabled", "totp.backup_codes_regenerated"} <= events


async def test_reauth_needs_the_second_factor_too(client):
    user = await register(client)
    secret, _, _ = await enable_totp(client, user)
    no_code = await client.post(
        "/api/v1/auth/reauth", json={"password": PASSWORD}, headers=user["headers"]
    )
    assert_error(no_code, 401, "TOTP_REQUIRED")
    ok = await client.post(
        "/api/v1/auth/reauth",
        json={"password": PASSWORD, "totpCode": code_for_offset(secret, 1)},
        headers=user["headers"],
    )
    assert ok.status_code == 200, ok.text

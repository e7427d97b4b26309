"""TOTP arithmetic checked against RFC 6238 Appendix B with an independent implementation."""

from __future__ import annotations

import base64
import hashlib

import pytest

from auth.totp import codes
from tests.security_support import totp

pytestmark = pytest.mark.unit

# RFC 6238 Appendix B: (time, SHA-1, SHA-256, SHA-512), 8 digits.
RFC_VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
SEED_SHA1 = b"12345678901234567890"
SEED_SHA256 = SEED_SHA1 + SEED_SHA1[:12]
SEED_SHA512 = SEED_SHA1 * 3 + SEED_SHA1[:4]


@pytest.mark.parametrize(("when", "sha1", "sha256", "sha512"), RFC_VECTORS)
def test_independent_totp_matches_rfc_vectors(when, sha1, sha256, sha512):
    assert totp(SEED_SHA1, when, digits=8) == sha1
    assert totp(SEED_SHA256, when, digits=8, digest=hashlib.sha256) == sha256
    assert totp(SEED_SHA512, when, digits=8, digest=hashlib.sha512) == sha512


@pytest.mark.parametrize(("when", "sha1", "_256", "_512"), RFC_VECTORS)
def test_product_codes_match_rfc_vectors(when, sha1, _256, _512):
    secret_b32 = base64.b32encode(SEED_SHA1).decode()
    # 6 digits are the last 6 of the 8-digit value (both are `value mod 10**digits`).
    assert codes.code_for_step(secret_b32, when // 30) == sha1[-6:]
    assert codes.matching_step(secret_b32, sha1[-6:], now=when) == when // 30
    assert codes.matching_step(secret_b32, sha1[-6:], now=when + 30) == when // 30
    assert codes.matching_step(secret_b32, sha1[-6:], now=when + 65) == -1


def test_secrets_and_backup_codes_are_random_and_strong():
    secrets_ = {codes.new_secret() for _ in range(50)}
    assert len(secrets_) == 50
    assert all(len(base64.b32decode(s + "=" * (-len(s) % 8))) == 20 for s in secrets_)
    backup = codes.new_backup_codes()
    assert len(backup) == 10 and len(set(backup)) == 10
    # 24 base32 characters = 120 bits each.
    assert all(len(codes.normalise_backup_code(c)) == 24 for c in backup)
    assert codes.backup_code_hash(backup[0].upper()) == codes.backup_code_hash(backup[0])

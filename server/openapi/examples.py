"""Examples of the main requests, shown by the schema UIs and checked by Spectral against their
schemas (so an example that drifts from its Struct fails `tests/e2e/test_contract_tools.py`)."""

from __future__ import annotations

from typing import Any

REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "RegisterRequest": {
        "username": "alice",
        "email": "alice@example.com",
        "password": "correct horse battery staple",
    },
    "LoginRequest": {"login": "alice", "password": "correct horse battery staple"},
    "RefreshRequest": {"refreshToken": "rt_2b7f0c1d9e8a4f6b"},
    "EmailTokenRequest": {"token": "k3J9xQv7Lm2N8pR4"},
    "ForgotPasswordRequest": {"email": "alice@example.com"},
    "ResetPasswordRequest": {"token": "k3J9xQv7Lm2N8pR4", "newPassword": "a new long passphrase"},
    "TransferRequest": {"to": {"username": "bob"}, "amount": 25, "memo": "pizza"},
    "MintRequest": {"to": {"username": "alice"}, "amount": 1000, "reason": "welcome grant"},
    "GroupCreate": {"name": "The Smiths", "description": "Our family"},
    "InvitationCreate": {"username": "bob", "relationship": "brother"},
    "TokenRequestCreate": {"amount": 50, "reason": "school trip"},
    "PurchaseRequest": {"itemId": "65f1a2b3c4d5e6f708192a3b", "rent": False},
    "NoteCreate": {"title": "Groceries", "body": "- milk\n- [[Recipes]]", "tags": ["home"]},
    "MessageCreate": {"content": "How many tokens do I have?"},
    "ApiTokenCreate": {"name": "home automation", "scopes": ["wallet:read"]},
}

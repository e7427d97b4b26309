"""Passkeys (WebAuthn): registration, usernameless login, credential management."""

"""TOTP two-factor authentication (RFC 6238) with single-use backup codes."""

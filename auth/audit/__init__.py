"""The hash-chained, append-only audit log of security events."""

"""The ledger: accounts, immutable transfers, idempotent money movement, the audit."""

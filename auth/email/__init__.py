"""Outgoing e-mail: an outbox collection drained by a SAQ job (SMTP or a file sink)."""

"""Lockdown: sign-in only from trusted IPs or devices; e-mailed links for the rest."""

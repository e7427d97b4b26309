"""E-mail flows of an account: verification, password reset, e-mail change, alerts."""

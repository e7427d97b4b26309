"""Permanent API tokens (`sbp_…`) for scripts and integrations."""

"""Accounts: users with per-project roles, their API sessions, and app users (device tokens)."""

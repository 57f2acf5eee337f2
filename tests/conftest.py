"""Shared pytest configuration. Fixtures that start real servers live in tests/support/."""

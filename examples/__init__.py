"""Runnable example workflows (offline by default)."""

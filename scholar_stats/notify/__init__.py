"""Notifications about changes: one module per outside system (``webhook.py``)."""

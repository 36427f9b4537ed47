"""Keeping authors fresh: one attempt (``attempt``), the request budget and lease (``budget``),
and the APScheduler job (``scheduler``)."""

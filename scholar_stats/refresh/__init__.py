"""Keeping authors fresh: the one refresh engine (``engine``) and its parts: one attempt
(``attempt``), what the store records (``record``), the shared request budget (``budget``), and
the APScheduler job that drives the engine (``scheduler``)."""

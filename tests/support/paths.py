"""Where things are: the repository and the saved answers the fakes serve."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository: README.md, action.yml, the package."""

FIXTURES = ROOT / "tests" / "fixtures"
"""Real saved pages and answers (``scholar/``, see its SOURCES.md) and frozen store schemas
(``store/``)."""

SUPPORT = Path(__file__).resolve().parent
"""This package: its scripts run as processes of their own."""

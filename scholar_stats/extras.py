"""Which optional extra installs a missing package, so a command can say what to install.

``pip install scholar-stats`` gives ``fetch``, ``publish`` and the Action; the store, scheduler
and service need ``[serve]``, a PostgreSQL store ``[postgres]`` (see pyproject.toml).
"""

from __future__ import annotations

# The top-level modules of each extra's packages (and of what they pull in) that our code
# imports first. Only these are reported as a missing extra: any other missing module is a bug.
EXTRA_OF = {
    **dict.fromkeys(
        ("sqlalchemy", "apscheduler", "tzlocal", "fastapi", "starlette", "pydantic",
         "pydantic_core", "uvicorn", "uvloop", "httptools", "badgepy", "prometheus_client"),
        "serve",
    ),
    **dict.fromkeys(("psycopg", "psycopg_binary"), "postgres"),
}


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The extra that installs the module ``exc`` failed to find; None when no extra does."""
    return EXTRA_OF.get((exc.name or "").partition(".")[0])


def install_hint(command: str, extra: str) -> str:
    return f"{command} needs the [{extra}] extra: pip install 'scholar-stats[{extra}]'"

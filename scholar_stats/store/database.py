"""The store: tracked authors, their latest profile, change-only history and fetch attempts.

SQLAlchemy 2 Core over SQLite (the default, a file in the user data directory) or PostgreSQL
(``postgresql+psycopg://``). One ``Store`` per process (assembled from the parts in this
package); it owns its engine, nothing is global.

Why the tables look the way they do:

- ``profiles`` keeps the last good ``gs_data`` record as JSON text, so ``gs_data.json`` is
  rebuilt byte for byte, plus the since-year the badges need.
- ``metric_history`` and ``pub_citations`` get a row only when a value changes; the last time an
  author was checked is ``authors.last_success_at``. Storage grows with changes, not with
  days times publications (see ``benchmarks/store.py``).
- ``publications.last_citations`` is the current count, so recording a fetch compares against
  one small query instead of parsing the previous profile.
- ``attempts`` logs every try (pruned after ``Policy.attempt_retention``) and lets a restarted
  scheduler count the Scholar requests of the last hour.
- ``authors.next_due_at`` / ``lease_until`` and ``scheduler_state`` hold the plan, so ``refresh``
  from cron, the scheduler and a restart all continue the same plan. ``lease_holder`` names the
  process fetching an author, so ``refresh ID`` can say who, and a dead holder's lease is taken
  over at once instead of at its expiry.
- ``scholar_stats_store`` is the marker that tells our store from another program's database:
  a database with tables but neither the marker nor the exact schema of an earlier release is
  refused without a single write (no migration, not even SQLite's switch to WAL).

Times are stored as integer milliseconds since 1970 (UTC): compact, portable, unambiguous.
Schema changes are ordered steps in ``MIGRATIONS``; opening a store applies the missing ones.
"""

from __future__ import annotations

import logging

from scholar_stats.store.authors import AuthorRows
from scholar_stats.store.groups import GroupRows
from scholar_stats.store.pacing import Pacing
from scholar_stats.store.reads import Reads
from scholar_stats.store.recording import Recording

log = logging.getLogger(__name__)


class Store(AuthorRows, GroupRows, Pacing, Reads, Recording):
    """A database of tracked authors. Creates or upgrades the schema when opened."""

"""Groups of tracked authors (a lab): their names and members. Persistence only; the totals
are computed by ``core.groups`` from the members' stored profiles."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from scholar_stats.store.base import StoreBase
from scholar_stats.store.schema import group_members, groups


class GroupRows(StoreBase):
    """The group rows (part of ``Store``)."""

    def add_to_group(self, name: str, ids: Iterable[str]) -> list[str]:
        """Create group ``name`` if needed and add ``ids`` (tracked authors, already checked);
        returns the ids that were not members yet."""
        wanted = list(dict.fromkeys(ids))
        with self._write() as conn:
            if conn.execute(sa.select(groups.c.name).where(groups.c.name == name)).first() is None:
                conn.execute(sa.insert(groups).values(name=name))
            known = set(conn.execute(
                sa.select(group_members.c.scholar_id).where(group_members.c.group_name == name)
            ).scalars())
            added = [sid for sid in wanted if sid not in known]
            if added:
                conn.execute(sa.insert(group_members),
                             [{"group_name": name, "scholar_id": sid} for sid in added])
            return added

    def remove_from_group(self, name: str, ids: Iterable[str] | None = None) -> bool:
        """Remove ``ids`` from the group, or the whole group when ``ids`` is ``None``; whether
        the group existed (its authors stay tracked)."""
        with self._write() as conn:
            if conn.execute(sa.select(groups.c.name).where(groups.c.name == name)).first() is None:
                return False
            mine = group_members.c.group_name == name
            if ids is None:
                conn.execute(sa.delete(group_members).where(mine))
                conn.execute(sa.delete(groups).where(groups.c.name == name))
            else:
                conn.execute(sa.delete(group_members).where(
                    mine, group_members.c.scholar_id.in_(list(ids))))
            return True

    def list_groups(self) -> dict[str, list[str]]:
        """Every group by name, with its members' ids (both in code point order)."""
        with self._read() as conn:
            names = sorted(conn.execute(sa.select(groups.c.name)).scalars())
            result: dict[str, list[str]] = {name: [] for name in names}
            for name, sid in conn.execute(
                sa.select(group_members.c.group_name, group_members.c.scholar_id)
            ):
                result.setdefault(name, []).append(sid)
        return {name: sorted(ids) for name, ids in result.items()}  # code point order, any DB

    def group_members(self, name: str) -> list[str] | None:
        """The members' ids of group ``name``; ``None`` when there is no such group."""
        with self._read() as conn:
            if conn.execute(sa.select(groups.c.name).where(groups.c.name == name)).first() is None:
                return None
            return sorted(conn.execute(
                sa.select(group_members.c.scholar_id).where(group_members.c.group_name == name)
            ).scalars())

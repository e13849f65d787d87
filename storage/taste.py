"""Members' artist play counts, for /neighbours and /taste: what two members share, who they are.

Like :mod:`storage.stats`, every query reads plays that are not removed, and members of one community
only; which of them may be named (privacy) is the service's decision.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, func, select

from storage.models import Member, Play
from storage.stats import MemberInfo


def artist_plays(conn: Connection, members: Sequence[int]) -> dict[int, dict[int, int]]:
    """``{member: {artist id: plays}}`` of ``members`` (every member asked for has an entry)."""
    out: dict[int, dict[int, int]] = {int(m): {} for m in members}
    if not out:
        return out
    rows = conn.execute(
        select(Play.member_id, Play.artist_id, func.sum(Play.count))
        .where(Play.member_id.in_(list(out)), Play.removed.is_(False))
        .group_by(Play.member_id, Play.artist_id)
    )
    for m, a, p in rows:
        out[int(m)][int(a)] = int(p)
    return out


def members_in(conn: Connection, community: int, ids: Sequence[int]) -> dict[int, MemberInfo]:
    """The members among ``ids`` that belong to ``community`` (any other id is left out)."""
    if not ids:
        return {}
    # By primary key, the community checked here: a filter on community_id in SQL can lead SQLite to
    # scan the whole community through its (community_id, external_id) index instead.
    rows = conn.execute(
        select(Member.id, Member.community_id, Member.external_id, Member.display_name, Member.private).where(
            Member.id.in_(list(ids))
        )
    ).all()
    return {int(i): MemberInfo(int(i), str(e), str(n), bool(p)) for i, c, e, n, p in rows if c == community}

"""``tastemaker member delete``: a member's plays, linked accounts and derived rows go; what their
plays added to the trend aggregates is subtracted exactly once by the next batch (the removal log),
which then erases the rows. The same member id in another community is another member and stays.
Real SQLite files in tmp_path; the batch runs on the session's local Spark."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, or_, select
from typer.testing import CliRunner

from bot.cli import app
from bot.jobs import JobContext, run_job
from bot.parsing import UserError
from bot.service import Service, Who
from config.settings import Settings
from engine.batch import fold_all
from storage import catalog, links, trends
from storage.db import Database
from storage.models import (
    LinkedAccount,
    Member,
    MemberFactor,
    MemberNeighbour,
    Play,
    PlayRemoval,
    Recommendation,
)
from tests.conftest import Clock
from tests.engine.helpers import reference_aggregates

ANN_A = Who("local", "alpha", "ann", community_name="alpha", member_name="Ann")
BOB_A = Who("local", "alpha", "bob", community_name="alpha", member_name="Bob")
CY_A = Who("local", "alpha", "cy", community_name="alpha", member_name="Cy")
ANN_B = Who("local", "beta", "ann", community_name="beta", member_name="Ann in beta")


def delete(settings: Settings, *args: str, answer: str | None = None) -> Any:
    return CliRunner().invoke(
        app, ["member", "delete", *args, "--db", settings.database_url], input=answer, catch_exceptions=False
    )


def ids(db: Database, who: Who) -> tuple[int, int | None]:
    with db.read() as conn:
        community = catalog.find_community(conn, who.platform, who.community_id)
        assert community is not None
        return community, catalog.find_member(conn, community, who.member_id)


def link(db: Database, who: Who, account: str, now: dt.datetime) -> None:
    community, member = ids(db, who)
    assert member is not None
    with db.write() as conn:
        links.activate(conn, community, member, "listenbrainz", account, now)


def rows_of(db: Database, member: int) -> dict[str, int]:
    """Every row that names the member, by table."""
    with db.read() as conn:

        def count(model: Any, *where: Any) -> int:
            return int(conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one())

        return {
            "members": count(Member, Member.id == member),
            "plays": count(Play, Play.member_id == member),
            "play_removals": count(PlayRemoval, PlayRemoval.member_id == member),
            "linked_accounts": count(LinkedAccount, LinkedAccount.member_id == member),
            "recommendations": count(Recommendation, Recommendation.member_id == member),
            "member_factors": count(MemberFactor, MemberFactor.member_id == member),
            "member_neighbours": count(
                MemberNeighbour,
                or_(MemberNeighbour.member_id == member, MemberNeighbour.neighbour_id == member),
            ),
        }


def aggregates(db: Database) -> tuple[list[tuple], list[tuple]]:
    with db.read() as conn:
        return trends.all_aggregates(conn)


def top(service: Service, who: Who) -> list[tuple[str, int, int]]:
    return [(e.name, e.plays, e.listeners) for e in service.trending(who, "all", "artist").entries]


@pytest.mark.spark
def test_the_next_batch_subtracts_the_members_plays_once_and_erases_them(
    db: Database, settings: Settings, service: Service, clock: Clock, spark: Any
) -> None:
    day = dt.datetime(2026, 11, 18, 9, 0)
    for k in range(12):  # Ann in alpha: 4 artists over 3 days
        service.played(ANN_A, f"Artist {k % 4} - Song {k}", played_at=day + dt.timedelta(hours=5 * k))
    for k in range(6):  # Bob and Cy share Artist 0 and Artist 1 with her
        service.played(BOB_A, f"Artist {k % 2} - Song {k}", played_at=day + dt.timedelta(hours=7 * k))
        service.played(CY_A, f"Artist {k % 3} - Song {k}", played_at=day + dt.timedelta(hours=3 * k))
    for k in range(5):  # the same platform id in another community: another member
        service.played(ANN_B, f"Artist {k % 2} - Song {k}", played_at=day + dt.timedelta(hours=k))
    service.played(BOB_A, "Artist 7 - Undone")
    service.undo(BOB_A)  # an /undo: its row stays after the batch, as before
    ctx = JobContext(settings, db, spark=lambda: spark, clock=clock)
    assert run_job("retrain", ctx).ok
    assert aggregates(db) == reference_aggregates(db)
    for k in range(3):  # after the batch: not folded yet when she is deleted
        service.played(ANN_A, f"Artist 5 - Late {k}")
    link(db, ANN_A, "ann_lb", clock())
    link(db, ANN_B, "ann_beta_lb", clock())
    _, ann_a = ids(db, ANN_A)
    _, ann_b = ids(db, ANN_B)
    assert ann_a is not None and ann_b is not None
    before = rows_of(db, ann_a)
    assert before["plays"] == 15 and before["linked_accounts"] == 1
    assert before["recommendations"] and before["member_factors"] and before["member_neighbours"]
    beta_rows, beta_top = rows_of(db, ann_b), top(service, ANN_B)

    r = delete(settings, "--community", "alpha", "--member", "ann", "--yes")
    assert (r.exit_code, r.output) == (
        0,
        "Deleted member ann of alpha: 15 plays removed, 1 linked account; the next batch subtracts 12 "
        "of them from the trends and erases them.\n",
    )
    # At once: nothing of hers is shown, and nothing the retrain derived for her is left.
    assert service.my_plays(ANN_A) == []
    with pytest.raises(UserError, match="has not logged any plays here"):
        service.profile(BOB_A, "ann")
    left = rows_of(db, ann_a)
    assert left == {**before, "play_removals": 15, "linked_accounts": 0, "recommendations": 0,
                    "member_factors": 0, "member_neighbours": 0}  # fmt: skip
    assert rows_of(db, ann_b) == beta_rows

    # She logs again through a service that had her ids cached: a new member, kept by the batch.
    service.played(ANN_A, "Artist 0 - Song 0")
    assert [p.what for p in service.my_plays(ANN_A)] == ["Artist 0 – Song 0"]

    result = fold_all(ctx)
    assert result.removed == 15  # 12 subtracted from the aggregates, 3 folded and subtracted
    assert aggregates(db) == reference_aggregates(db)
    assert run_job("batch", ctx).ok  # the job erases what the batch no longer counts
    assert rows_of(db, ann_a) == dict.fromkeys(before, 0)
    with db.read() as conn:  # Bob's /undo keeps its row and removal
        assert conn.execute(select(func.count()).where(Play.removed.is_(True))).scalar_one() == 1
    kept = ("members", "plays", "play_removals", "linked_accounts")  # the batch may have retrained
    assert top(service, ANN_B) == beta_top
    assert {k: rows_of(db, ann_b)[k] for k in kept} == {k: beta_rows[k] for k in kept}
    assert top(service, BOB_A) == [("Artist 0", 6, 3), ("Artist 1", 5, 2), ("Artist 2", 2, 1)]
    assert [p.what for p in service.my_plays(ANN_A)] == ["Artist 0 – Song 0"]
    # A second batch subtracts nothing more.
    assert fold_all(ctx).removed == 0
    assert aggregates(db) == reference_aggregates(db)


def test_it_asks_first_and_no_keeps_everything(db: Database, settings: Settings, service: Service) -> None:
    for k in range(3):
        service.played(ANN_A, f"Artist {k} - Song {k}")
    link(db, ANN_A, "ann_lb", dt.datetime(2026, 11, 20))
    _, ann = ids(db, ANN_A)
    assert ann is not None
    before = rows_of(db, ann)
    r = delete(settings, "--community", "alpha", "--member", "ann", answer="n\n")
    assert r.exit_code == 1
    assert r.output.startswith(
        "Delete member ann of alpha with 3 plays and 1 linked account? This cannot be undone [y/N]: "
    )
    assert rows_of(db, ann) == before and len(service.my_plays(ANN_A)) == 3
    r = delete(settings, "--community", "alpha", "--member", "ann", answer="y\n")
    assert r.exit_code == 0
    assert r.output.endswith(
        "Deleted member ann of alpha: 3 plays removed, 1 linked account; the next batch erases them.\n"
    )
    assert service.my_plays(ANN_A) == []


def test_unknown_community_or_member_is_one_line(db: Database, settings: Settings, service: Service) -> None:
    service.played(ANN_A, "Artist - Song")
    r = delete(settings, "--community", "gamma", "--member", "ann", "--yes")
    assert (r.exit_code, r.output) == (2, "error: unknown community 'gamma'\n")
    r = delete(settings, "--community", "alpha", "--member", "zed", "--yes")
    assert (r.exit_code, r.output) == (2, "error: unknown member 'zed' in 'alpha'\n")
    assert len(service.my_plays(ANN_A)) == 1


def test_a_member_without_plays_goes_at_once(db: Database, settings: Settings, service: Service) -> None:
    service.played(ANN_B, "Artist - Song")
    with db.write() as conn:
        community = catalog.community_id(conn, "local", "alpha", "alpha")
        ann = catalog.member_id(conn, community, "ann", "Ann")
        links.activate(conn, community, ann, "lastfm", "ann_fm", dt.datetime(2026, 11, 20))
    r = delete(settings, "--community", "alpha", "--member", "ann", "--yes")
    assert (r.exit_code, r.output) == (0, "Deleted member ann of alpha: 0 plays removed, 1 linked account.\n")
    assert rows_of(db, ann) == dict.fromkeys(rows_of(db, ann), 0)
    assert len(service.my_plays(ANN_B)) == 1  # beta's Ann is another member
    r = delete(settings, "--community", "alpha", "--member", "ann", "--yes")
    assert (r.exit_code, r.output) == (2, "error: unknown member 'ann' in 'alpha'\n")

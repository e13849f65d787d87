"""/link, /unlink, /links and the profile's link lines on the console: through :func:`handle` with a
settable clock and the real sync against the loopback ListenBrainz and Last.fm fakes (the link itself
fetches nothing), and one ``tastemaker chat`` session. Exact replies."""

from __future__ import annotations

from sqlalchemy import func, insert, select

from bot.platforms.console.commands import handle, help_text
from bot.service import Service, Who
from config.settings import Settings
from storage import trends
from storage.db import Database
from storage.models import Play, Watermark
from tests.chat import run_chat
from tests.conftest import Clock
from tests.fakes.lastfm import FakeLastfm, Scrobble
from tests.fakes.listenbrainz import FakeListen, FakeListenBrainz
from tests.sync.conftest import T0, run_sync

ANN = Who("local", "c1", "ann", community_name="Crew", member_name="Ann")
BOB = Who("local", "c1", "bob", member_name="Bob")
EVE = Who("local", "c2", "eve", community_name="Other", member_name="Eve")  # another community

PROFILE_FIELDS = [
    "Artists: 5",
    "Tracks: 30",
    "Member since: 2026-05-28",
    "Current streak: 0 days",
    "Longest streak: 1 day",
    "Top artist: Artist 0",
    "Closest neighbour: — (comes with the next retrain)",
]
GONE_NOTICE = (
    "ListenBrainz says there is no account “nobody_here” (any more), so its listens stopped arriving "
    "here. If you renamed it, unlink it and link the new name with /link listenbrainz <name>."
)


def _listens(n: int) -> list[FakeListen]:
    return [FakeListen(T0 + 60 * k, f"Artist {k % 5}", f"Song {k}") for k in range(n)]


def say(service: Service, who: Who, line: str) -> str:
    reply = handle(service, who, line, [], [])
    assert reply is not None
    return reply


def test_link_then_links_and_the_profile_follow_the_sync(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    lb.add_user("ann_lb", _listens(30))
    assert say(linker, ANN, "/links") == (
        "You have no ListenBrainz or Last.fm account linked here. Link one and its plays arrive by "
        "themselves: /link listenbrainz <user name> or /link lastfm <user name>."
    )
    assert say(linker, ANN, "/link listenbrainz https://listenbrainz.org/user/ann_lb/") == (
        "Linked your ListenBrainz account ann_lb. Its listening history is copied into your plays here "
        "over the next syncs, then its new listens as they come; they count like the plays you log. "
        "/links shows how far it is."
    )
    clock.advance(minutes=2)
    assert say(linker, ANN, "/links") == (
        "Your linked accounts here:\n"
        "ListenBrainz: ann_lb — linked 2 min ago, waiting for its first sync\n"
        "Their plays count here like the ones you log. /unlink listenbrainz keep stops syncing it and "
        "keeps its plays; /unlink listenbrainz delete removes them too."
    )
    # Linked, nothing synced yet: the profile says so under the "no plays" line.
    assert say(linker, ANN, "/profile") == (
        "You have no plays here yet: log one with /played.\n"
        "ListenBrainz: ann_lb — linked 2 min ago, waiting for its first sync"
    )
    small = sync_settings.model_copy(update={"listenbrainz_page_size": 20, "sync_pages_per_account": 1})
    run_sync(db, small, clock)
    clock.advance(minutes=5)
    assert say(linker, ANN, "/links").splitlines()[1] == (
        "ListenBrainz: ann_lb — copying its history: 20 plays so far, last synced 5 min ago"
    )
    run_sync(db, sync_settings, clock)
    clock.advance(hours=3)
    assert say(linker, ANN, "/profile") == "\n".join(
        ["Your profile", "Plays: 30", *PROFILE_FIELDS, "ListenBrainz: ann_lb — last synced 3 h ago, 30 plays"]
    )
    assert say(linker, ANN, "/link lb ANN_LB") == (
        "Your ListenBrainz account ann_lb is already linked here: last synced 3 h ago, 30 plays."
    )
    # Another member's view of Ann's profile: no accounts; another community: nothing of Ann's.
    assert "ann_lb" not in say(linker, BOB, "/profile ann")
    assert say(linker, BOB, "/profile ann").startswith("Ann's profile\nPlays: 30\n")
    assert say(linker, EVE, "/links").startswith("You have no ListenBrainz or Last.fm account linked here.")
    assert say(linker, EVE, "/profile") == "You have no plays here yet: log one with /played."
    assert say(linker, EVE, "/unlink") == "Sorry — You have no ListenBrainz or Last.fm account linked here."
    # The same account in the other community is a link of its own there.
    assert say(linker, EVE, "/link listenbrainz ann_lb").startswith(
        "Linked your ListenBrainz account ann_lb."
    )
    assert say(linker, BOB, "/link listenbrainz ann_lb") == (
        "Sorry — Another member here has linked the ListenBrainz account “ann_lb”."
    )


def test_a_lastfm_link_needs_the_operators_key(db: Database, settings: Settings, clock: Clock) -> None:
    service = Service(db, settings.model_copy(update={"lastfm_api_key": None}), clock=clock)
    assert say(service, ANN, "/link lastfm annfm") == (
        "Sorry — Last.fm accounts cannot be linked on this bot yet: its operator has to set LASTFM_API_KEY."
    )
    assert say(service, ANN, "/links").startswith("You have no ListenBrainz or Last.fm account linked here.")


def test_link_refusals(linker: Service) -> None:
    assert say(linker, ANN, "/link") == (
        "Sorry — Which account? Try `/link listenbrainz <user name>` or `/link lastfm <user name>`."
    )
    assert say(linker, ANN, "/link listenbrainz") == (
        "Sorry — Which ListenBrainz account? Give its user name: /link listenbrainz <user name>."
    )
    assert say(linker, ANN, "/link spotify ann") == (
        "Sorry — “spotify” is not a service I can link: use listenbrainz or lastfm."
    )
    assert say(linker, ANN, "/link lastfm 9lives") == (
        "Sorry — “9lives” is not a Last.fm user name (2-15 letters, digits, - or _, starting with a letter)."
    )
    assert say(linker, ANN, "/unlink lastfm listenbrainz") == (
        "Sorry — I don't understand `lastfm listenbrainz` here. "
        "Try `/unlink`, `/unlink listenbrainz` or `/unlink lastfm delete`."
    )
    assert say(linker, ANN, "/unlink keep delete") == (
        "Sorry — Keep or delete the synced plays, not both. "
        "Try `/unlink`, `/unlink listenbrainz` or `/unlink lastfm delete`."
    )
    say(linker, ANN, "/link listenbrainz ann_lb")
    say(linker, ANN, "/link lastfm https://www.last.fm/user/AnnFM")
    assert say(linker, ANN, "/unlink delete") == (
        "Sorry — You have linked both ListenBrainz and Last.fm here: say which, e.g. /unlink lastfm."
    )
    assert say(linker, ANN, "/links").splitlines()[1:3] == [
        "Last.fm: AnnFM — linked just now, waiting for its first sync",
        "ListenBrainz: ann_lb — linked just now, waiting for its first sync",
    ]


def test_unlink_keeps_the_plays_by_default_and_delete_removes_them(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    lb.add_user("ann_lb", _listens(12))
    say(linker, ANN, "/link listenbrainz ann_lb")
    say(linker, ANN, "/played Typed Band - Typed Song")  # logged by hand: always stays
    run_sync(db, sync_settings, clock)
    assert linker.profile(ANN).plays == 13
    assert say(linker, ANN, "/unlink") == (
        "Unlinked your ListenBrainz account ann_lb: no new listens arrive from it. The plays it synced "
        "stay in your history, like imported plays. To remove them as well, link it again and unlink it "
        "with delete: /link listenbrainz ann_lb, then /unlink listenbrainz delete."
    )
    assert linker.profile(ANN).plays == 13 and linker.links(ANN) == []
    assert say(linker, ANN, "/link listenbrainz ann_lb") == (
        "Linked your ListenBrainz account ann_lb again. Its sync goes on where it stopped: the 12 plays "
        "it synced before are kept, not added twice."
    )
    # Pretend the batch has folded every play so far: the reply says /trending drops them later.
    with db.write() as conn:
        top = conn.execute(select(func.max(Play.id))).scalar_one()
        conn.execute(insert(Watermark).values(job=trends.TRENDS_WATERMARK, last_play_id=top, batches=1))
    assert say(linker, ANN, "/unlink delete listenbrainz") == (
        "Unlinked your ListenBrainz account ann_lb: no new listens arrive from it. The 12 plays it synced "
        "are removed from your history. /trending has counted some of them already and drops them at the "
        "next batch update. Linking it again (/link listenbrainz ann_lb) brings its whole history back."
    )
    assert [p.what for p in linker.my_plays(ANN)] == ["Typed Band – Typed Song"]
    assert linker.profile(ANN).plays == 1
    # Nothing synced: nothing to remove, and the reply says so.
    say(linker, ANN, "/link listenbrainz ann_lb")
    assert say(linker, ANN, "/unlink listenbrainz delete") == (
        "Unlinked your ListenBrainz account ann_lb: no new listens arrive from it. It had not synced any "
        "plays, so none were removed."
    )


def test_a_notice_is_shown_once_with_the_next_private_answer(
    db: Database, sync_settings: Settings, linker: Service, lfm: FakeLastfm, clock: Clock
) -> None:
    say(linker, ANN, "/link listenbrainz nobody_here")
    run_sync(db, sync_settings, clock)
    clock.advance(minutes=10)
    gone = (
        "ListenBrainz: nobody_here — ListenBrainz has no such account (any more), so nothing new "
        "arrives; nothing synced yet"
    )
    assert say(linker, ANN, "/links").splitlines()[1:] == [
        gone,
        "Their plays count here like the ones you log. /unlink listenbrainz keep stops syncing it and "
        "keeps its plays; /unlink listenbrainz delete removes them too.",
        f"Notice: {GONE_NOTICE}",
    ]
    assert "Notice" not in say(linker, ANN, "/links")
    assert say(linker, ANN, "/profile") == (f"You have no plays here yet: log one with /played.\n{gone}")
    # A private Last.fm account: told with the own profile, once; another member asking is not told.
    lfm.add_user("shybob", [Scrobble(T0, "A", "B")])
    lfm.private.add("shybob")
    say(linker, BOB, "/played Radiohead")
    say(linker, BOB, "/link lastfm shybob")
    run_sync(db, sync_settings, clock, due_only=False)
    assert "Notice" not in say(linker, ANN, "/profile bob")
    lines = say(linker, BOB, "/profile").splitlines()
    assert lines[-2:] == [
        "Last.fm: shybob — the account hides its listening, so nothing new arrives; nothing synced yet",
        "Notice: Your Last.fm account “shybob” hides its recent listening, so its listens stopped arriving "
        "here. Untick “Hide recent listening information” in Last.fm's privacy settings and they come "
        "back within a day, by themselves.",
    ]
    assert "Notice" not in say(linker, BOB, "/profile") + say(linker, BOB, "/links")


def test_a_failed_sync_shows_what_went_wrong(
    db: Database, sync_settings: Settings, linker: Service, lb: FakeListenBrainz, clock: Clock
) -> None:
    lb.add_user("ann_lb", _listens(3))
    say(linker, ANN, "/link listenbrainz ann_lb")
    lb.fail_next(503, times=3)  # every attempt of the run
    run_sync(db, sync_settings, clock)
    assert say(linker, ANN, "/links").splitlines()[1] == (
        "ListenBrainz: ann_lb — the last sync failed (ListenBrainz answered HTTP 503) and is tried again "
        "later; nothing synced yet"
    )
    clock.advance(hours=1)
    run_sync(db, sync_settings, clock, due_only=False)
    lb.fail_next(500, times=3)
    clock.advance(minutes=30)
    run_sync(db, sync_settings, clock, due_only=False)
    assert say(linker, ANN, "/links").splitlines()[1] == (
        "ListenBrainz: ann_lb — the last sync failed (ListenBrainz answered HTTP 500) and is tried again "
        "later; 3 plays synced, last synced 30 min ago"
    )


def test_help_lists_the_link_commands() -> None:
    lines = help_text().splitlines()
    assert (
        "/link listenbrainz|lastfm <user name> — link your ListenBrainz or Last.fm account here: its plays "
        "arrive by themselves (e.g. /link listenbrainz rob)"
    ) in lines
    assert (
        "/unlink [listenbrainz|lastfm] [keep|delete] — stop syncing a linked account; its synced plays "
        "stay (keep, the default) or go (delete) (e.g. /unlink lastfm delete)"
    ) in lines
    assert "/links — your linked accounts: last sync, plays synced, problems" in lines


def test_a_chat_session_links_and_unlinks(database_url: str) -> None:
    r = run_chat(database_url, "/link listenbrainz rob\n/links\n/unlink delete\n/links\n", member="ann")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("Linked your ListenBrainz account rob. ")
    assert out[1:3] == ["Your linked accounts here:", out[2]]
    assert out[2].startswith("ListenBrainz: rob — linked ") and out[2].endswith(
        ", waiting for its first sync"
    )
    assert out[4] == (
        "Unlinked your ListenBrainz account rob: no new listens arrive from it. It had not synced any "
        "plays, so none were removed."
    )
    assert out[5].startswith("You have no ListenBrainz or Last.fm account linked here.")
    assert len(out) == 6

"""The README's Discord invite URL asks for exactly the permissions the bot uses (the digest's:
bot/platforms/discord/digest.py's DIGEST_PERMISSIONS), and docs/operations.md says the same."""

from __future__ import annotations

import re
from pathlib import Path

import discord

from bot.platforms.discord.digest import DIGEST_PERMISSIONS

ROOT = Path(__file__).resolve().parents[3]


def test_the_digest_permissions_cover_what_posting_it_needs() -> None:
    p = discord.Permissions(DIGEST_PERMISSIONS)
    assert (p.view_channel, p.send_messages, p.send_messages_in_threads, p.embed_links, p.attach_files) == (
        True,
        True,
        True,
        True,
        True,
    )
    assert DIGEST_PERMISSIONS == 274877959168  # nothing else: no administrator, no manage_*


def test_the_invite_urls_carry_that_integer() -> None:
    for doc in ("README.md", "docs/operations.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        found = re.findall(r"discord\.com/oauth2/authorize\?\S*?permissions=(\d+)", text)
        assert found and {int(n) for n in found} == {DIGEST_PERMISSIONS}, doc
        assert f"`{DIGEST_PERMISSIONS}" in text or f"**{DIGEST_PERMISSIONS}**" in text, doc  # stated

"""The one clock every layer defaults to: naive UTC datetimes, as the database stores them."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)

"""Page data shared by every user's session until the data changes.

Forty staff opening the boards in the morning should not each compute the same 5,000 overdue
steps. A page puts what it reads behind `@shared_data` and passes `change_stamp()` as the
first argument: the stamp is the head of the append-only audit log, which every service
writes in the same transaction as its change, so any save anywhere gives the next run a new
key and fresh data, while a page view that follows no change costs a cache lookup. Two
lookups of an index answer the stamp at any size.

The results are keyed by every argument (the day, the filter, the acting user when the
service masks or narrows by role) and kept at most `TTL` seconds, which bounds how long a
change made outside the services (a manual SQL fix, pg_restore) can go unseen. A restore
through duban logs itself at the current time, so the stamp after it is new.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ParamSpec, TypeVar

import streamlit as st

from duban import audit
from ui.common import engine

TTL = 600  # seconds
# Results per function: after a save the old stamp's entries are never asked for again, so
# a few are enough for the filters in use, and memory stays bounded (the largest entry, the
# 逾期 board at 1,000,000 tickets, pickles to about 1.5 MB).
ENTRIES = 16
P = ParamSpec("P")
R = TypeVar("R")

Stamp = tuple[int | None, datetime | None]


def change_stamp() -> Stamp:
    """Where the data is now: the audit log's newest row."""
    with engine().connect() as connection:
        return audit.head(connection)


def shared_data(func: Callable[P, R]) -> Callable[P, R]:
    """`st.cache_data` with the app's settings: quiet, bounded, expiring."""
    return st.cache_data(ttl=TTL, max_entries=ENTRIES, show_spinner=False)(func)

"""The framework's floor for the page benchmark: a page that only shows precomputed tables.

Its own module, so that the floor scripts and `bench/pages.py` share the one set of tables
however the benchmark is started: under `python -m bench.pages` that module is `__main__`,
and a floor script importing `bench.pages` would get a second copy whose tables were never
set, timing an empty page.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

# The app's own shell (app.py's login gate, account sidebar and navigation with the user's
# page list) running a page that only shows the precomputed tables; the bare variant is
# Streamlit alone.
FLOOR_SCRIPT = """
import streamlit as st
from bench.floor import show_floor_tables
from ui import gate
from ui.common import engine
from ui.navigation import navigation

st.set_page_config(page_title="floor", layout="wide")
engine()
me = gate.current_actor()
gate.account_sidebar(me)


def floor() -> None:
    st.title("floor")
    show_floor_tables()


pages = {"floor": [st.Page(floor, title="floor", default=True)], **navigation(me.role)}
st.navigation(pages, expanded=True).run()
"""
BARE_FLOOR_SCRIPT = """
import streamlit as st
from bench.floor import show_floor_tables
st.title("floor")
show_floor_tables()
"""
_tables: dict[str, pd.DataFrame] = {}


def set_floor_tables(rows: int, edited: int, columns: int) -> None:
    """What the next floor runs show: `rows` read-only rows, `edited` rows in an editor."""
    _tables.clear()
    if rows:
        _tables["shown"] = floor_frame(rows, columns)
    if edited:
        _tables["edited"] = floor_frame(edited, columns)


def floor_frame(rows: int, columns: int) -> pd.DataFrame:
    return pd.DataFrame(
        {f"列{c}": [f"第{r}行第{c}列" if c % 2 else r for r in range(rows)] for c in range(columns)}
    )


def show_floor_tables() -> None:
    """The precomputed tables the floor page shows: read-only rows in a dataframe, editable
    rows in a data editor, as the measured page had them."""
    if "shown" in _tables:
        st.dataframe(_tables["shown"], hide_index=True)
    if "edited" in _tables:
        st.data_editor(_tables["edited"], hide_index=True, key="floor_editor")

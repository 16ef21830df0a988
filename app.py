"""duban — 12345 热线督办台账. Entry point: `streamlit run app.py`.

Runs the login gate, then the page chosen from the user's page list (`ui/navigation.py`).
A page missing from the list cannot be reached by URL, so role gating lives there and in
the services.
"""

from __future__ import annotations

import streamlit as st

from duban.permissions import Actor
from ui import gate
from ui.common import chinese_widget_texts, engine
from ui.navigation import navigation

st.set_page_config(
    page_title="12345 热线督办台账", page_icon=":material/assignment:", layout="wide"
)

engine()
current: Actor | None = gate.current_actor()
if current is None:
    # Every page is registered (hidden) but none runs: after login the requested URL,
    # e.g. /cases?case=12, opens if the user's role lists that page.
    # The list's default is a unit user's 待办; other roles, lacking it, land on 首页.
    st.navigation(navigation(None), position="hidden")
    gate.login_page()
    st.stop()
gate.account_sidebar(current)
chinese_widget_texts()
st.navigation(navigation(current.role), expanded=True).run()

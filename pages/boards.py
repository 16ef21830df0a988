"""看板 (placeholder until issue #6 lands)."""

import streamlit as st

st.title("看板")
st.info("此功能正在建设中。")

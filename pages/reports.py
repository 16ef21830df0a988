"""报表 (placeholder until issue #7 lands)."""

import streamlit as st

st.title("报表")
st.info("此功能正在建设中。")

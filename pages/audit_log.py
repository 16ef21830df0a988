"""操作日志 (placeholder until issue #8 lands)."""

import streamlit as st

st.title("操作日志")
st.info("此功能正在建设中。")

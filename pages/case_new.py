"""新建督办 (placeholder until issue #4 lands)."""

import streamlit as st

st.title("新建督办")
st.info("此功能正在建设中。")

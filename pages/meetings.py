"""专题会与处置规则 (placeholder until issue #4 lands)."""

import streamlit as st

st.title("专题会与处置规则")
st.info("此功能正在建设中。")

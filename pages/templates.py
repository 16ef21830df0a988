"""文书模板 (placeholder until issue #5 lands)."""

import streamlit as st

st.title("文书模板")
st.info("此功能正在建设中。")

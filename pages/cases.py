"""督办事项 (placeholder until issue #4 lands)."""

import streamlit as st

st.title("督办事项")
st.info("此功能正在建设中。")

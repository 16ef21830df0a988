"""督办线索 (placeholder until issue #6 lands)."""

import streamlit as st

st.title("督办线索")
st.info("此功能正在建设中。")

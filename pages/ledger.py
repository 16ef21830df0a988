"""工单台账 (placeholder until issue #3 lands)."""

import streamlit as st

st.title("工单台账")
st.info("此功能正在建设中。")

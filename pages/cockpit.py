"""领导驾驶舱 (placeholder until issue #7 lands)."""

import streamlit as st

st.title("领导驾驶舱")
st.info("此功能正在建设中。")

"""用户管理 (placeholder until issue #8 lands)."""

import streamlit as st

st.title("用户管理")
st.info("此功能正在建设中。")

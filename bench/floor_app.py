"""The browser benchmark's floor: a bare Streamlit app showing the same widgets as duban's
login form, 首页, 工单台账, 看板 and one case, from data precomputed once (`bench.browser`).

    DUBAN_FLOOR_DATA=/tmp/…/floor.pickle streamlit run bench/floor_app.py

No database, no login check, no services: each run reads the pickle's dict (loaded once per
process) and draws it. What the app costs beyond this is duban's own work per screen.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import streamlit as st


@st.cache_resource
def load() -> dict[str, Any]:
    with open(os.environ["DUBAN_FLOOR_DATA"], "rb") as fh:
        return pickle.load(fh)


data = load()
st.set_page_config(
    page_title="12345 热线督办台账", page_icon=":material/assignment:", layout="wide"
)


def login_page() -> None:
    st.title("12345 热线督办台账")
    with st.form("auth_login_form"):
        st.subheader("登录")
        username = st.text_input("用户名", max_chars=50, autocomplete="username")
        st.text_input("密码", type="password", max_chars=128, autocomplete="current-password")
        submitted = st.form_submit_button("登录", type="primary")
    if submitted:
        st.session_state["user"] = username
        st.rerun()


def home() -> None:
    home = data["home"]
    st.title("12345 热线督办台账")
    st.caption(home["caption"])
    for col, (label, value, hint) in zip(
        st.columns(len(home["metrics"])), home["metrics"], strict=True
    ):
        col.metric(label, value, help=hint)
    for col, (title, links, empty, more) in zip(st.columns(3), home["lists"], strict=True):
        with col:
            st.subheader(title)
            for case_id, label, note in links:
                st.page_link(PAGES["cases"], label=label, query_params={"case": str(case_id)})
                st.caption(note)
            if not links:
                st.success(empty)
            if more:
                st.page_link(PAGES["boards"], label=more[1], query_params={"boards_tab": more[0]})


def flash(text: str) -> None:
    st.session_state["ledger_flash"] = text


def on_save(gen: int) -> None:
    state = st.session_state.get(f"ledger_editor_{gen}") or {}
    edited = [r for r in (state.get("edited_rows") or {}).values() if set(r) - {"selected"}]
    deleted = state.get("deleted_rows") or []
    if not (edited or deleted):
        flash("没有需要保存的修改")
        return
    flash(f"已保存：修改 {len(edited)} 条，新增 0 条，删除 {len(deleted)} 条")
    st.session_state["ledger_gen"] = gen + 1


def ledger() -> None:
    led = data["ledger"]
    st.title("工单台账")
    text = st.session_state.pop("ledger_flash", None)
    if text:
        st.success(text)
    tabs = st.tabs(
        ["台账", "手工录入", "导入", "回收站", "工单详情"], key="ledger_tab", on_change="rerun"
    )
    if tabs[0].open:  # the benchmark opens no other tab
        with tabs[0]:
            ledger_tab(led)


def ledger_tab(led: dict[str, Any]) -> None:
    c1, c2, c3, c4 = st.columns([3, 1, 3, 1], vertical_alignment="bottom")
    c1.selectbox("我的视图", [], key="ledger_view_pick", placeholder="还没有保存的视图")
    c2.button("删除此视图", key="ledger_view_delete", disabled=True)
    c3.text_input("视图名称", key="ledger_view_name", max_chars=50)
    c4.button("保存视图", key="ledger_view_save")
    c1, c2, c3 = st.columns([2, 2, 3])
    c1.multiselect("承办单位", led["units"], key="ledger_f_units", placeholder="请选择（可多选）")
    c2.multiselect(
        "问题分类", led["categories"], key="ledger_f_categories", placeholder="请选择（可多选）"
    )
    c3.text_input("关键词（地址或内容）", key="ledger_f_keyword")
    st.expander("更多筛选", key="ledger_f_more", on_change="rerun")
    gen = st.session_state.setdefault("ledger_gen", 0)
    c1, c2, c3 = st.columns([1, 5, 1])
    c3.button("刷新", key="ledger_refresh")
    c1.number_input("页码", min_value=1, max_value=led["pages"], step=1, key="ledger_page")
    c2.markdown(f"共 **{led['total']}** 条，每页 {led['page_size']} 条，共 {led['pages']} 页。")
    config: dict[str, Any] = {
        key: st.column_config.TextColumn(label, disabled=not editable)
        for key, (label, editable) in led["grid"].items()
    }
    config["selected"] = st.column_config.CheckboxColumn("选择", width="small")
    config["ticket_no"] = st.column_config.TextColumn("工单编号", disabled=True, pinned=True)
    for key, label in (("received_at", "诉求时间"), ("platform_due_at", "办理时限")):
        config[key] = st.column_config.DatetimeColumn(
            label, format="YYYY-MM-DD HH:mm", disabled=True
        )
    config["unit"] = st.column_config.SelectboxColumn("承办单位", options=led["units"])
    config["notes"] = st.column_config.TextColumn("备注", width="medium")
    config["content"] = st.column_config.TextColumn("内容描述", disabled=True, width="medium")
    with st.form("ledger_form", border=False):
        st.data_editor(
            led["frame"], key=f"ledger_editor_{gen}", hide_index=True, num_rows="delete",
            column_config=config, column_order=["selected", *led["shown"]],
        )  # fmt: skip
        b1, b2, _ = st.columns([1, 1, 4])
        b1.form_submit_button("保存", type="primary", on_click=on_save, args=(gen,))
        b2.form_submit_button("对选中工单立案")
    st.caption("工单详情：" + led["links"])
    c1, _ = st.columns([1, 3])
    c1.button(f"导出当前筛选（{led['total']} 条）", key="ledger_export_make")


def boards() -> None:
    brd = data["boards"]
    st.title("看板")
    st.caption(brd["caption"])
    cols = st.columns([3, 2, 3, 2, 2])
    cols[0].selectbox("承办单位", ["全部单位", *brd["units"]], key="boards_unit")
    cols[1].selectbox("督办类型", brd["levels"], key="boards_level")
    cols[2].selectbox("协调督办范围", brd["scopes"], key="boards_scope")
    cols[3].date_input("立案日期从", value=None, key="boards_since")
    cols[4].date_input("立案日期至", value=None, key="boards_until")
    day = st.column_config.DateColumn(format="YYYY-MM-DD")
    tabs = st.tabs(["逾期", "即将到期", "待提级", "承办单位"], key="boards_tab", on_change="rerun")
    if tabs[0].open:
        with tabs[0]:
            st.caption(f"共 {len(brd['overdue'])} 个逾期环节，按逾期时间从长到短排列")
            st.caption("点选一行即打开该督办事项")
            st.dataframe(
                brd["overdue"], hide_index=True, key="boards_overdue", on_select="rerun",
                selection_mode="single-row",
                column_config={"下发日期": day, "截止日期": day, "case_id": None},
            )  # fmt: skip


def case_page() -> None:
    case = data["case"]
    if st.button("← 返回列表", key="cases_back"):
        st.query_params.clear()
        st.rerun()
    st.title(case["title"])
    st.markdown(case["status"])
    st.markdown(case["facts"])
    st.subheader(f"关联工单（{len(case['tickets'])}）")
    st.dataframe(case["tickets"], hide_index=True)
    st.subheader("督办环节")
    for block in case["steps"]:
        with st.container(border=True):
            st.markdown(block)
    st.subheader("办理")
    for n, label in enumerate(case["actions"]):
        st.expander(label, key=f"cases_form_{n}", on_change="rerun")
    key = f"case_documents_{case['id']}"
    box = st.expander("生成文书", key=f"{key}_open", on_change="rerun")
    if box.open:
        with box:
            st.selectbox("文书类型", case["kinds"], key=f"{key}_kind")
            st.selectbox("对应督办环节", case["paper_steps"], key=f"{key}_step")
            st.caption(case["description"])
            if st.button("生成文书", key=f"{key}_render", type="primary"):
                st.session_state[f"{key}_last"] = True
            if st.session_state.get(f"{key}_last"):
                st.success(f"已生成：{case['file_name']}")
                download(case, f"{key}_last")
    st.markdown("**已生成的文书**")
    for text in case["papers"]:
        with st.container(border=True):
            st.markdown(text)
            download(case, key)
    st.subheader("办理记录")
    timeline = case["timeline"]
    st.dataframe(timeline, hide_index=True, height=35 * (len(timeline) + 1) + 3)


def download(case: dict[str, Any], key: str) -> None:
    left, right = st.columns([3, 2])
    with left:
        cols = st.columns(2)
        cols[0].download_button("下载 Word", data=case["docx"], file_name=case["file_name"],
                                key=f"{key}_docx", icon=":material/description:")  # fmt: skip
    with right:
        if case["png"] and st.toggle("打印预览", key=f"{key}_preview"):
            st.image(case["png"], caption="打印预览（第 1 页）", width=260)


def placeholder() -> None:
    st.title("（底线应用不画此页）")


VIEWS = {"home": home, "ledger": ledger, "boards": boards, "cases": case_page}
PAGES: dict[str, Any] = {}


def navigation() -> dict[str, list]:
    """The same page list as duban's for the user's role (titles, icons, sections)."""
    sections: dict[str, list] = {}
    for name, title, icon, section in data["pages"]:
        page = st.Page(VIEWS.get(name, placeholder), title=title, icon=icon, url_path=name)
        PAGES[name] = page
        sections.setdefault(section, []).append(page)
    return sections


if "user" not in st.session_state:
    st.navigation(navigation(), position="hidden")
    login_page()
    st.stop()
with st.sidebar:
    st.text(f"当前用户：{st.session_state['user']}")
    st.text(f"角色：{data['role']}")
    st.button("退出登录", key="auth_logout", icon=":material/logout:")
st.navigation(navigation(), expanded=True).run()

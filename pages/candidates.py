"""督办线索: groups of tickets proposed for supervision, per rule, each with the reason its
tickets belong together (address key, shared key words); one click 立案 opens 新建督办
prefilled with the group (`st.session_state["case_new_prefill"]`). Groups already in an open
case link to it instead. Staff confirm or split a group here, which records address aliases
(标准地址) every later run reads; the 标准地址 table is edited here too.
"""

from __future__ import annotations

from datetime import datetime, time

import pandas as pd
import streamlit as st
from sqlmodel import Session

from duban.analysis import (
    DONE_STATUSES_KEY,
    REPEAT_RULES,
    SETTING_KEYS,
    Candidates,
    Group,
    IndexRun,
    Rule,
    Thresholds,
    data_version,
    find_candidates,
    mark_repeat_group,
)
from duban.clock import cn_date, now, today
from duban.permissions import Actor, Perm
from duban.settings import LABELS, RANGES, read_settings, save_settings
from duban.standard_address import (
    PREFIXES_KEY,
    confirm_same_place,
    delete_standard_address,
    list_standard_addresses,
    recompute_address_parts,
    save_standard_address,
    split_places,
)
from ui.common import actor, engine, literal, user_action

PAGE_SIZE = 30

me: Actor = actor()
sees_contacts = me.can(Perm.SEE_CONTACTS)  # the analysis' cache key (it masks for itself)
st.title("督办线索")
st.caption(
    "综合诉求内容、承办单位办理情况、回访市民反馈情况，提出可确定为督办事项的工单组；"
    "每组说明其工单为何属于同一事项。已在督办中的工单不再提出。"
)


def data_stamp() -> tuple:
    """Changes whenever tickets, cases or their links change (the cache key of the analysis)."""
    with Session(engine()) as session:
        return data_version(session, me)


@st.cache_resource(ttl=600, max_entries=8, show_spinner="正在分析工单…")
def analyse(
    url: str,
    as_of: datetime,
    stamp: tuple,
    thresholds: Thresholds,
    sees_contacts: bool,
    _who: Actor,
    rebuild: bool = False,
) -> Candidates:
    """The analysis, cached per database, moment, data version, thresholds and whether the
    user may see contacts (the only thing of `_who` the result depends on; kept as the
    object itself, never copied: `Candidates` is immutable). The same-matter index it
    brings up to date is committed, so the next analysis prepares only newer tickets."""
    with Session(engine()) as session:
        found = find_candidates(session, _who, as_of, thresholds, rebuild=rebuild)
        session.commit()
        return found


def index_line(run: IndexRun) -> str:
    """When the same-matter index last took in tickets, and how many."""
    what = "全部重新建立" if run.rebuilt else f"新增或变更工单 {run.prepared:,} 件"
    return (
        f"同一事项索引：{cn_date(run.at)} {run.at:%H:%M} 更新，{what}（用时 {run.seconds:.1f} 秒）；"
        "此后每次分析只比对新导入或修改过的工单"
    )


def threshold_form() -> None:
    """Admins tune the rules here, where their effect shows (saved as audited settings)."""
    keys = [*SETTING_KEYS.values(), DONE_STATUSES_KEY, PREFIXES_KEY]
    with Session(engine()) as session:
        current = read_settings(session, me, keys)
    with st.form("candidates_thresholds"):
        cols = st.columns(3)
        values = {}
        for i, key in enumerate(SETTING_KEYS.values()):
            low, high = RANGES[key]
            values[key] = cols[i % 3].number_input(
                LABELS[key], min_value=low, max_value=high, value=int(current[key]), step=1
            )
        values[DONE_STATUSES_KEY] = st.text_input(
            LABELS[DONE_STATUSES_KEY],
            value=current[DONE_STATUSES_KEY],
            help="平台状态为其中之一的工单视为已处置（用顿号分隔）；其余状态视为仍在办理",
        )
        values[PREFIXES_KEY] = st.text_input(
            LABELS[PREFIXES_KEY],
            value=current[PREFIXES_KEY],
            help="比较地址前先去掉的省市、区、镇名称；修改后全部工单的地址重新解析",
        )
        if st.form_submit_button("保存阈值"):
            with user_action(), Session(engine()) as session:
                changed = save_settings(session, me, values)
                if PREFIXES_KEY in changed:
                    recompute_address_parts(session, me)
                session.commit()
                st.session_state["candidates_flash"] = (
                    "已保存：" + "、".join(LABELS[k] for k in changed) if changed else "没有修改"
                )
                st.rerun()


day = st.date_input("分析截至", value=today(), max_value=today(), key="candidates_as_of")
as_of = now().replace(minute=0, second=0) if day == today() else datetime.combine(day, time.max)
found: Candidates | None = None
with user_action():  # e.g. a threshold out of range: its message, no traceback
    with Session(engine()) as session:
        thresholds = Thresholds.load(session)
    found = analyse(
        engine().url.render_as_string(), as_of, data_stamp(), thresholds, sees_contacts, me
    )
if found is not None and found.index is not None and found.index.last is not None:
    st.caption(index_line(found.index.last))
if flash := st.session_state.pop("candidates_flash", None):
    st.success(flash)
with st.expander("规则与阈值"):
    if found is not None:
        for line in found.thresholds.describe():
            st.markdown(f"- {line}")
    if me.can(Perm.MANAGE_SETTINGS):
        threshold_form()
        if found is not None and st.button(
            "重新建立同一事项索引",
            key="candidates_rebuild",
            help="规则版本或相似度阈值改变时索引会自动重建；仅在怀疑索引与工单不一致时使用",
        ):
            with user_action():
                analyse.clear()
                analyse(
                    engine().url.render_as_string(),
                    as_of,
                    data_stamp(),
                    thresholds,
                    sees_contacts,
                    me,
                    True,
                )
                st.session_state["candidates_flash"] = "已重新建立同一事项索引"
                st.rerun()
    else:
        st.caption("阈值由管理员在此调整。")
if found is None:
    st.stop()
result: Candidates = found

may_open = me.can(Perm.EDIT_CASES)
may_edit = me.can(Perm.EDIT_TICKETS)


def place_actions(group: Group) -> None:
    """确认 / 拆分: the spellings staff merge become aliases of one 标准地址."""
    left, right = st.columns([1, 3])
    if left.button(
        "确认同一地点",
        key=f"candidates_confirm_{group.key}",
        help="把本组工单的地址写法登记为同一个标准地址，此后每次分析都按它归并",
    ):
        with user_action(), Session(engine()) as session:
            name = confirm_same_place(session, actor(), group.ticket_ids)
            session.commit()
            st.session_state["candidates_flash"] = f"已确认：本组地址登记为标准地址“{name}”"
            st.rerun()
    with right.popover("拆分…"):
        nos = {t.ticket_no: t.id for t in group.tickets}
        taken = st.multiselect(
            "拆出不属于本组的工单",
            list(nos),
            key=f"candidates_split_pick_{group.key}",
            placeholder="选择工单编号",
        )
        if st.button("拆分", key=f"candidates_split_{group.key}"):
            with user_action(), Session(engine()) as session:
                kept_ids = [i for no, i in nos.items() if no not in taken]
                first, second = split_places(session, actor(), kept_ids, [nos[no] for no in taken])
                session.commit()
                st.session_state["candidates_flash"] = (
                    f"已拆分：留下的登记为标准地址“{first}”，拆出的登记为“{second}”"
                )
                st.rerun()


def standard_addresses() -> None:
    """The 标准地址 table: each standard address with its aliases; add, change, delete."""
    with Session(engine()) as session:
        rows = list_standard_addresses(session)
    st.dataframe(
        pd.DataFrame(
            {
                "标准地址": [r.name for r in rows],
                "别名": ["、".join(r.aliases) or "—" for r in rows],
                "备注": [r.note or "—" for r in rows],
            }
        ),
        hide_index=True,
    )
    if not may_edit:
        return
    by_name = {r.name: r for r in rows}
    choice = st.selectbox(
        "编辑", ["（新增标准地址）", *by_name], key="candidates_std_pick", placeholder="请选择"
    )
    row = by_name.get(choice)
    with st.form("candidates_std_form"):
        name = st.text_input("标准地址", value=row.name if row else "", key="candidates_std_name")
        aliases = st.text_area(
            "别名（每行一个，按平台写法填写）",
            value="\n".join(row.aliases) if row else "",
            placeholder="例如：赵巷镇和睦家园三号楼",
            key="candidates_std_aliases",
        )
        note = st.text_input("备注", value=row.note if row else "", key="candidates_std_note")
        if st.form_submit_button("保存标准地址", key="candidates_std_save"):
            with user_action(), Session(engine()) as session:
                save_standard_address(
                    session, me, name, aliases.splitlines(), note,
                    standard_id=row.id if row else None,
                    expected_version=row.version if row else None,
                )  # fmt: skip
                session.commit()
                st.session_state["candidates_flash"] = "已保存标准地址"
                st.rerun()
    if row is not None and st.button("删除该标准地址", key="candidates_std_delete"):
        with user_action(), Session(engine()) as session:
            delete_standard_address(session, me, row.id, row.version)
            session.commit()
            st.session_state["candidates_flash"] = f"已删除标准地址“{row.name}”"
            st.rerun()


with st.expander("标准地址与别名"):
    standard_addresses()


def tickets_frame(group: Group) -> pd.DataFrame:
    in_case = {c.ticket_id: c.case_no for c in group.open_cases}
    return pd.DataFrame(
        {
            "工单编号": [t.ticket_no for t in group.tickets],
            "诉求时间": [t.received_at for t in group.tickets],
            "诉求地址": [t.address for t in group.tickets],
            "内容描述": [t.content for t in group.tickets],
            "来电人": [t.caller for t in group.tickets],
            "联系电话": [t.phone for t in group.tickets],
            "回访": [t.callback.label if t.callback else "" for t in group.tickets],
            "平台状态": [t.status for t in group.tickets],
            "已在督办": [in_case.get(t.id, "") for t in group.tickets],
        }
    )


def show_group(group: Group) -> None:
    with st.container(border=True):
        first, last = group.tickets[0].received_at, group.tickets[-1].received_at
        span = (
            cn_date(first) if first.date() == last.date() else f"{cn_date(first)}—{cn_date(last)}"
        )
        st.markdown(f"**{literal(group.title)}** · {len(group.tickets)} 张工单 · {span}")
        st.markdown(literal(group.reason))
        st.caption(
            f"地址键：{literal(group.address_key or '—')} · 共同关键词："
            f"{literal('、'.join(group.keywords) or '—')}"
        )
        if group.proposed:
            if may_open and st.button("立案", key=f"candidates_open_{group.key}", type="primary"):
                st.session_state["case_new_prefill"] = group.prefill()
                st.switch_page("pages/case_new.py")
        if (
            may_open
            and group.rule in REPEAT_RULES
            and st.button(
                "标记为重复件", key=f"candidates_repeat_{group.key}", help="计入重复投诉率"
            )
        ):
            with user_action():
                with Session(engine()) as session:
                    marked = mark_repeat_group(session, actor(), group)
                    session.commit()
                st.success(f"已将 {marked} 张工单标记为重复件（组 {group.key}）")
        if may_edit and len(group.tickets) > 1:
            place_actions(group)
        if not group.proposed:
            st.caption("已在督办中：")
            for case_id, case_no in group.cases:
                st.page_link("pages/cases.py", label=case_no, query_params={"case": str(case_id)})
        with st.expander("工单明细"):
            st.dataframe(
                tickets_frame(group),
                hide_index=True,
                column_config={
                    "诉求时间": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")
                },
            )
            for s in group.similar[:10]:
                st.caption(f"工单 {s.ticket_a} 与 {s.ticket_b}：内容相似度 {s.score:.2f}")


rules = list(Rule)
labels = [f"{r.label}（{len(result.by_rule(r))}）" for r in rules]
tabs = st.tabs(labels, key="candidates_tab", on_change="rerun")
for rule, tab in zip(rules, tabs, strict=True):
    if not tab.open:
        continue
    with tab:
        groups = result.by_rule(rule)
        pending = sum(g.proposed for g in groups)
        st.caption(
            f"共 {len(groups)} 组，其中待立案 {pending} 组，已在督办中 {len(groups) - pending} 组"
        )
        query = st.text_input("按地址、内容或工单编号查找", key=f"candidates_query_{rule.value}")
        if query:
            words = query.split()
            groups = [
                g
                for g in groups
                if all(
                    any(w in t.address or w in t.content or w in t.ticket_no for t in g.tickets)
                    for w in words
                )
            ]
        groups = sorted(groups, key=lambda g: not g.proposed)  # proposed first, order kept
        shown = st.session_state.get(f"candidates_shown_{rule.value}", PAGE_SIZE)
        for group in groups[:shown]:
            show_group(group)
        if not groups:
            st.info("没有符合该规则的工单组。")
        elif len(groups) > shown:
            if st.button(
                f"再显示 {PAGE_SIZE} 组（共 {len(groups)} 组）", key=f"candidates_more_{rule.value}"
            ):
                st.session_state[f"candidates_shown_{rule.value}"] = shown + PAGE_SIZE
                st.rerun()

"""工单台账: the tickets like a spreadsheet — filter, edit, save; import; 回收站; detail; export.

Session keys (prefix `ledger_`):
- `ledger_gen`: generation of the grid; the editor keys are `ledger_editor_{gen}` (loaded
  rows) and `ledger_new_{gen}` (rows typed in by hand on the 手工录入 tab). A save, a filter
  change or a page change starts a new generation, so positions in `edited_rows` always
  refer to the rows loaded with that key (kept in `ledger_rows_{gen}` with their id and
  version, for the last three generations: a 保存 may arrive from a grid just replaced).
- `ledger_tab`: the open tab; only its view runs.
- `ledger_f_*`: the filter bar; `ledger_page`: page number.
- `ledger_preview` / `ledger_result`: the import being previewed / just imported.
- `case_new_prefill`: set for pages/case_new.py by the button 对选中工单立案.
Query parameter `?ticket=ID` opens the detail of one ticket.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pandas as pd
import streamlit as st
from sqlmodel import Session

from duban.clock import cn_date
from duban.enums import CallbackResult, UnitKind
from duban.errors import DubanError, NotFound
from duban.exporter import rejects_xlsx, tickets_xlsx
from duban.importer import (
    FIELD_LABELS,
    IGNORE,
    MAPPABLE_FIELDS,
    ImportRefused,
    create_unit_for,
    import_tickets,
    map_unit_alias,
    save_column_mapping,
)
from duban.permissions import Perm
from duban.readable import EMPTY, LogLine, log_lines
from duban.tickets import (
    PAGE_SIZE,
    UNASSIGNED,
    RowEdit,
    TicketFilter,
    find_ticket_id,
    parse_ticket_nos,
    query_tickets,
    restore_tickets,
    save_ledger,
    ticket_detail,
)
from duban.units import live_units
from duban.views import COLUMNS, LEDGER, View, delete_view, list_views, save_view
from ui.common import actor, engine, literal, log_exception, user_action
from ui.ledger_data import GRID, choices, ticket_page
from ui.shared import Stamp, change_stamp

me = actor()
DB = engine()  # taken once per run: callbacks below use it without touching the page machinery
CAN_EDIT = me.can(Perm.EDIT_TICKETS)
CAN_IMPORT = me.can(Perm.IMPORT_TICKETS)
CAN_OPEN_CASE = me.can(Perm.EDIT_CASES)

NEW_ROW_FIELDS = ["ticket_no", "received_at", "unit", "category", "address", "content",
                  "caller", "phone", "platform_status", "notes", "tags", "repeat_group"]  # fmt: skip


def flash(kind: str, text: str) -> None:
    st.session_state["ledger_flash"] = (kind, text)


def show_flash() -> None:
    kind, text = st.session_state.pop("ledger_flash", (None, None))
    if kind:
        getattr(st, kind)(text)


def next_generation() -> None:
    """New grid keys: called when the rows on screen are about to change."""
    st.session_state["ledger_gen"] = st.session_state.get("ledger_gen", 0) + 1


def on_filter_change() -> None:
    st.session_state["ledger_page"] = 1
    next_generation()


def when(value: datetime | None) -> str:
    return f"{cn_date(value)} {value:%H:%M}" if value else ""


# --- filters --------------------------------------------------------------------------------


MORE_FILTERS = ("ledger_f_statuses", "ledger_f_callbacks", "ledger_f_from", "ledger_f_to",
                "ledger_f_numbers")  # fmt: skip


def filter_bar(units: dict[int, str], categories: list[str], statuses: list[str]) -> TicketFilter:
    """Unit, category and keyword always shown; the rest under 更多筛选, drawn only while it
    is open. Its values are kept while it is closed (re-stating a widget's value in session
    state keeps Streamlit from dropping it) and go on filtering the grid."""
    options = {UNASSIGNED: "（未匹配单位）", **units}
    if not me.can(Perm.VIEW_ALL):
        options = {k: v for k, v in options.items() if k == me.unit_id}
    for key in (*MORE_FILTERS, COLUMNS_KEY):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    st.session_state.setdefault(COLUMNS_KEY, list(SHOWN))
    c1, c2, c3 = st.columns([2, 2, 3])
    c1.multiselect("承办单位", list(options), format_func=options.get, key="ledger_f_units",
                   on_change=on_filter_change, placeholder="请选择（可多选）")  # fmt: skip
    c2.multiselect(
        "问题分类",
        categories,
        key="ledger_f_categories",
        on_change=on_filter_change,
        placeholder="请选择（可多选）",
    )
    c3.text_input("关键词（地址或内容）", key="ledger_f_keyword", on_change=on_filter_change)
    state = st.session_state
    more = sum(bool(state.get(k)) for k in MORE_FILTERS)
    box = st.expander(f"更多筛选（已设 {more} 项）" if more else "更多筛选", key="ledger_f_more",
                      on_change="rerun")  # fmt: skip
    if box.open:
        with box:
            c1, c2, c3, c4, c5 = st.columns([2, 2, 1, 1, 2])
            c1.multiselect(
                "工单状态",
                statuses,
                key="ledger_f_statuses",
                on_change=on_filter_change,
                placeholder="请选择（可多选）",
            )
            c2.multiselect("回访结果", list(CallbackResult), format_func=lambda c: c.label,
                           key="ledger_f_callbacks", on_change=on_filter_change, placeholder="请选择（可多选）")  # fmt: skip
            c3.date_input(
                "诉求时间 自", value=None, key="ledger_f_from", on_change=on_filter_change
            )
            c4.date_input("至", value=None, key="ledger_f_to", on_change=on_filter_change)
            c5.text_area("工单编号（可粘贴多个）", key="ledger_f_numbers", height=68,
                         on_change=on_filter_change)  # fmt: skip
            st.multiselect("显示的列", list(SHOWN), format_func=lambda c: GRID[c][0],
                           key=COLUMNS_KEY, on_change=next_generation,
                           placeholder="请选择要显示的列")  # fmt: skip
    start, end = state.get("ledger_f_from"), state.get("ledger_f_to")
    return TicketFilter(
        unit_ids=tuple(state.get("ledger_f_units") or ()),
        categories=tuple(state.get("ledger_f_categories") or ()),
        statuses=tuple(state.get("ledger_f_statuses") or ()),
        callbacks=tuple(state.get("ledger_f_callbacks") or ()),
        date_from=start if isinstance(start, date) else None,
        date_to=end if isinstance(end, date) else None,
        keyword=state.get("ledger_f_keyword") or "",
        ticket_nos=parse_ticket_nos(state.get("ledger_f_numbers") or ""),
    )


# --- saved views ----------------------------------------------------------------------------

# a view's filter field → the filter bar's session key
VIEW_FILTERS = {"unit_ids": "ledger_f_units", "categories": "ledger_f_categories",
                "statuses": "ledger_f_statuses", "callbacks": "ledger_f_callbacks",
                "date_from": "ledger_f_from", "date_to": "ledger_f_to",
                "keyword": "ledger_f_keyword", "numbers": "ledger_f_numbers"}  # fmt: skip
COLUMNS_KEY = "ledger_columns"
SHOWN = COLUMNS[LEDGER]  # the columns a user may show or hide (id and version never show)


def view_filters() -> dict[str, Any]:
    """The filter bar's values as a view keeps them (codes, ISO dates)."""
    out: dict[str, Any] = {}
    for field, key in VIEW_FILTERS.items():
        value = st.session_state.get(key)
        if field == "callbacks":
            value = [c.value for c in value or []]
        elif field in ("date_from", "date_to"):
            value = value.isoformat() if isinstance(value, date) else None
        elif isinstance(value, list | tuple):
            value = list(value)
        out[field] = value
    return out


def on_pick_view(mine: dict[int, View], options: dict[str, list[Any]]) -> None:
    """Apply the chosen view: its filters (those still offered) and its columns."""
    view = mine.get(st.session_state.get("ledger_view_pick"))
    if view is None:
        return
    for field, key in VIEW_FILTERS.items():
        value = view.filters.get(field)
        if field in ("date_from", "date_to"):
            st.session_state[key] = date.fromisoformat(value) if value else None
        elif field in ("keyword", "numbers"):
            st.session_state[key] = value or ""
        elif field == "callbacks":
            st.session_state[key] = [CallbackResult(c) for c in value or []]
        else:
            st.session_state[key] = [v for v in value or [] if v in options[field]]
    st.session_state[COLUMNS_KEY] = [c for c in view.columns if c in SHOWN]
    st.session_state["ledger_view_name"] = view.name
    flash("info", f"已应用视图“{view.name}”")
    on_filter_change()


def on_save_view() -> None:
    name = st.session_state.get("ledger_view_name", "")
    try:
        with Session(DB) as session:
            saved = save_view(session, me, LEDGER, name, filters=view_filters(),
                              columns=list(st.session_state.get(COLUMNS_KEY) or []))  # fmt: skip
            session.commit()
    except DubanError as exc:
        flash("error", f"视图未保存：{exc}")
        return
    st.session_state["ledger_view_pick"] = saved.id
    flash("success", f"已保存视图“{saved.name}”（当前筛选条件与显示列）")


def on_delete_view(mine: dict[int, View]) -> None:
    view = mine.get(st.session_state.get("ledger_view_pick"))
    if view is None:
        flash("warning", "请先在“我的视图”中选择要删除的视图")
        return
    try:
        with Session(DB) as session:
            delete_view(session, me, view.id)
            session.commit()
    except DubanError as exc:
        flash("error", f"视图未删除：{exc}")
        return
    st.session_state["ledger_view_pick"] = None
    flash("success", f"已删除视图“{view.name}”")


def views_bar(units: dict[int, str], categories: list[str], statuses: list[str]) -> None:
    """我的视图: pick one to apply it; save the current filter + columns under a name."""
    if me.user_id is None:
        return
    with Session(DB) as session:
        mine = {v.id: v for v in list_views(session, me, LEDGER)}
    if st.session_state.get("ledger_view_pick") not in mine:
        st.session_state["ledger_view_pick"] = None
    options = {"unit_ids": [UNASSIGNED, *units], "categories": categories, "statuses": statuses}
    c1, c2, c3, c4 = st.columns([3, 1, 3, 1], vertical_alignment="bottom")
    c1.selectbox("我的视图", list(mine), format_func=lambda i: mine[i].name, key="ledger_view_pick",
                 placeholder="选择已保存的视图" if mine else "还没有保存的视图",
                 on_change=on_pick_view, args=(mine, options))  # fmt: skip
    c2.button("删除此视图", key="ledger_view_delete", on_click=on_delete_view, args=(mine,),
              disabled=st.session_state.get("ledger_view_pick") is None)  # fmt: skip
    c3.text_input("视图名称", key="ledger_view_name", max_chars=50,
                  placeholder="如：本周未回访、城管中队在办")  # fmt: skip
    c4.button("保存视图", key="ledger_view_save", on_click=on_save_view,
              help="保存当前的筛选条件和显示的列；同名视图会被覆盖")  # fmt: skip


# --- the grid -------------------------------------------------------------------------------


def column_config(unit_names: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {
        key: st.column_config.TextColumn(label, disabled=not (editable and CAN_EDIT))
        for key, (label, editable) in GRID.items()
    }
    config["selected"] = st.column_config.CheckboxColumn("选择", width="small")
    config["ticket_no"] = st.column_config.TextColumn("工单编号", disabled=True, pinned=True)
    config["received_at"] = st.column_config.DatetimeColumn(
        "诉求时间", format="YYYY-MM-DD HH:mm", disabled=True
    )
    config["platform_due_at"] = st.column_config.DatetimeColumn(
        "办理时限", format="YYYY-MM-DD HH:mm", disabled=True
    )
    config["unit"] = st.column_config.SelectboxColumn(
        "承办单位", options=unit_names, disabled=not CAN_EDIT
    )
    config["notes"] = st.column_config.TextColumn("备注", disabled=not CAN_EDIT, width="medium")
    config["content"] = st.column_config.TextColumn("内容描述", disabled=True, width="medium")
    return config


def new_rows_frame() -> pd.DataFrame:
    return pd.DataFrame(columns=NEW_ROW_FIELDS, dtype="string")


KEPT_GENERATIONS = 3  # a 保存 sent from a grid the page has just replaced still finds its rows


def loaded_rows(stamp: Stamp, flt: TicketFilter, gen: int) -> tuple[pd.DataFrame, int, int]:
    """The page of rows for this generation, loaded once and kept while the user edits.

    The rows of the generations just before are kept too: a click on 保存 can reach the
    server after a rerun has started the next generation (the browser still showed the old
    grid), and its edits refer to the rows that grid showed, with their versions."""
    cache_key = f"ledger_rows_{gen}"
    if cache_key not in st.session_state:
        loaded = ticket_page(stamp, me, flt, st.session_state.get("ledger_page", 1))
        for old in [k for k in st.session_state if str(k).startswith("ledger_rows_")]:
            if int(str(old).removeprefix("ledger_rows_")) <= gen - KEPT_GENERATIONS:
                del st.session_state[old]
        st.session_state[cache_key] = loaded
    return st.session_state[cache_key]


def collect_changes(frame: pd.DataFrame, state: dict[str, Any]):
    """The grid editor's state → (edits, deletions, selected ids)."""
    edits, selected = [], []
    for pos, changes in (state.get("edited_rows") or {}).items():
        index = int(pos)
        values = {k: v for k, v in changes.items() if k != "selected"}
        ticket_id, version = int(frame.at[index, "id"]), int(frame.at[index, "version"])
        if changes.get("selected"):
            selected.append(ticket_id)
        if values:
            edits.append(RowEdit(ticket_id, version, values))
    deleted = [
        (int(frame.at[int(p), "id"]), int(frame.at[int(p), "version"]))
        for p in state.get("deleted_rows") or []
    ]
    return edits, deleted, selected


def pending_changes(gen: int):
    """What the user changed in this generation's grid (see `collect_changes`); None when
    that grid's rows are no longer kept (it was replaced several times meanwhile)."""
    loaded = st.session_state.get(f"ledger_rows_{gen}")
    if loaded is None:
        return None
    return collect_changes(loaded[0], st.session_state.get(f"ledger_editor_{gen}") or {})


STALE_GRID = "表格已刷新，这次的修改未保存：请在当前表格中重新修改后保存。"


def save(edits: list[RowEdit], added: list[dict[str, Any]], deleted: list[tuple[int, int]]) -> None:
    """One save of the grid or of the hand-typed rows: all of it or, on an error, nothing
    (the input stays in the editor for the user to fix)."""
    try:
        with Session(DB) as session:
            result = save_ledger(session, me, edits=edits, added=added, deleted=deleted)
            session.commit()
    except DubanError as exc:
        flash("error", literal(exc))
        return
    except Exception as exc:  # noqa: BLE001 - the UI never shows a traceback
        log_exception(exc)
        flash("error", "保存失败：系统内部错误，详情已记录到 data/logs/；数据未作改动。")
        return
    parts = (
        f"修改 {len(result.updated)} 条，新增 {len(result.added)} 条，删除 {len(result.deleted)} 条"
    )
    if result.conflicts:
        flash(
            "warning",
            f"已保存：{parts}。以下行未保存：\n\n- "
            + "\n- ".join(literal(c) for c in result.conflicts),
        )
    else:
        flash("success", f"已保存：{parts}")
    next_generation()


def on_save(gen: int) -> None:
    """保存 (a callback, so it runs exactly once per click, before the page redraws)."""
    pending = pending_changes(gen)
    if pending is None:
        flash("warning", STALE_GRID)
        return
    edits, deleted, _ = pending
    if not (edits or deleted):
        flash("info", "没有需要保存的修改")
        return
    save(edits, [], deleted)


def on_add(gen: int) -> None:
    """保存新增工单: the rows typed into 手工录入."""
    state = st.session_state.get(f"ledger_new_{gen}") or {}
    added = [dict(r) for r in (state.get("added_rows") or [])]
    if not added:
        flash("info", "没有需要保存的新工单")
        return
    save([], added, [])


def on_open_case(gen: int) -> None:
    """对选中工单立案: hand the ticked tickets to pages/case_new.py."""
    pending = pending_changes(gen)
    if pending is None:
        flash("warning", STALE_GRID)
        return
    selected = pending[2]
    if not selected:
        flash("warning", "请先在“选择”列勾选要立案的工单")
        return
    st.session_state["case_new_prefill"] = {"ticket_ids": selected}
    st.session_state["ledger_go_case_new"] = True


def export_view(flt: TicketFilter, total: int) -> None:
    c1, c2 = st.columns([1, 3])
    if c1.button(f"导出当前筛选（{total} 条）", key="ledger_export_make"):
        with user_action():
            with Session(DB) as session:
                data = tickets_xlsx(session, me, flt)
                session.commit()
            st.session_state["ledger_export"] = data
    if "ledger_export" in st.session_state:
        c2.download_button(
            "下载 xlsx", st.session_state["ledger_export"], file_name=f"工单台账_{date.today():%Y%m%d}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key="ledger_export_download",
        )  # fmt: skip


def ledger_tab() -> None:
    stamp = change_stamp()
    units, categories, statuses = choices(stamp, me)
    views_bar(units, categories, statuses)
    flt = filter_bar(units, categories, statuses)
    gen = st.session_state.setdefault("ledger_gen", 0)
    frame, total, pages = loaded_rows(stamp, flt, gen)
    if st.session_state.get("ledger_page", 1) > pages:  # rows were deleted meanwhile
        st.session_state["ledger_page"] = pages
    c1, c2, c3 = st.columns([1, 5, 1])
    c3.button("刷新", key="ledger_refresh", on_click=next_generation)
    c1.number_input("页码", min_value=1, max_value=pages, step=1, key="ledger_page",
                    on_change=next_generation)  # fmt: skip
    c2.markdown(f"共 **{total}** 条，每页 {PAGE_SIZE} 条，共 {pages} 页。"
                + ("编辑“承办单位、备注、标签、重复组”后点“保存”；平台字段只能通过导入更新。" if CAN_EDIT else ""))  # fmt: skip
    with st.form("ledger_form", border=False):
        st.data_editor(
            frame, key=f"ledger_editor_{gen}", hide_index=True,
            num_rows="delete" if CAN_EDIT else "fixed",
            column_config=column_config(list(units.values())),
            # id and version stay in the frame (saves map rows to them) but never show
            column_order=["selected", *(st.session_state.get(COLUMNS_KEY) or SHOWN)],
        )  # fmt: skip
        b1, b2, _ = st.columns([1, 1, 4])
        b1.form_submit_button(
            "保存", type="primary", disabled=not CAN_EDIT, on_click=on_save, args=(gen,)
        )
        b2.form_submit_button(
            "对选中工单立案", disabled=not CAN_OPEN_CASE, on_click=on_open_case, args=(gen,)
        )
    if not frame.empty:
        links = " · ".join(
            f"[{n}](/ledger?ticket={i})"
            for i, n in zip(frame["id"][:10], frame["ticket_no"][:10], strict=True)
        )
        st.caption("工单详情：" + links + (" …" if len(frame) > 10 else ""))
    export_view(flt, total)


def manual_tab() -> None:
    """手工录入: tickets that did not come through the platform export, typed in by hand."""
    units = choices(change_stamp(), me)[0]
    gen = st.session_state.setdefault("ledger_gen", 0)
    st.caption("每行一张工单；工单编号与诉求时间必填，诉求时间如 2024-01-24 09:30。")
    with st.form("ledger_new_form", border=False):
        st.data_editor(
            new_rows_frame(), key=f"ledger_new_{gen}", hide_index=True, num_rows="add",
            column_config={k: st.column_config.TextColumn(GRID[k][0]) for k in NEW_ROW_FIELDS}
            | {"unit": st.column_config.SelectboxColumn("承办单位", options=list(units.values()))},
        )  # fmt: skip
        st.form_submit_button("保存新增工单", type="primary", on_click=on_add, args=(gen,))


# --- import -----------------------------------------------------------------------------------


def run_import(name: str, data: bytes, *, dry_run: bool) -> Any:
    with Session(DB) as session:
        report = import_tickets(session, me, data, name, dry_run=dry_run)
        if not dry_run:
            session.commit()
    return report


def report_view(report: Any) -> None:
    c = st.columns(5)
    c[0].metric("新增", report.inserted)
    c[1].metric("更新", report.updated)
    c[2].metric("未变化", report.unchanged)
    c[3].metric("未导入（拒绝）", report.rejected)
    c[4].metric("空行（跳过）", report.skipped_empty)
    st.caption(
        f"工作表“{report.sheet}”，表头在第 {report.header_row} 行；识别的列："
        + "、".join(f"{h}→{FIELD_LABELS[f]}" for f, h in report.columns.items())
    )
    if report.previous_imports:
        st.info(
            "同一文件此前已导入过："
            + "；".join(report.previous_imports)
            + "（重复导入不会产生重复工单）"
        )
    if report.rejects:
        st.warning(f"{report.rejected} 行未导入，原因如下（行号与 Excel 中一致）：")
        st.dataframe(
            pd.DataFrame([{"行号": r.row, "列": r.column, "原因": r.reason, "工单编号": r.ticket_no} for r in report.rejects]),
            hide_index=True,
        )  # fmt: skip
        st.download_button(
            "下载未导入的行（xlsx）", rejects_xlsx(report.rejects), file_name=f"未导入_{report.file_name}.xlsx",
            key=f"ledger_rejects_{report.sha256[:8]}_{report.dry_run}",
        )  # fmt: skip
    for hint in report.route_suggestions:
        st.info(
            f"专题会处置规则“{literal(hint.rule_name)}”适用于 {len(hint.ticket_nos)} 张新工单"
            f"（{literal('、'.join(hint.ticket_nos[:10]))}{' 等' if len(hint.ticket_nos) > 10 else ''}）："
            f"处置部门 {literal(hint.unit_name)}，处置路径：{literal(hint.handling_path)}"
        )
    if report.changes:
        with st.expander(
            f"将要更新的字段（前 {len(report.changes)} 处）" if report.dry_run else "更新的字段"
        ):
            st.dataframe(
                pd.DataFrame(report.changes, columns=["工单编号", "字段", "原值", "新值"]),
                hide_index=True,
            )


def unit_mapping_form(report: Any, units: dict[int, str]) -> None:
    if not report.unknown_units:
        return
    st.subheader("未匹配的承办单位")
    st.caption(
        "这些单位名称在系统中找不到；工单已导入（或将导入）为“未匹配单位”。请对应到已有单位或新建，不会自动猜测。"
    )
    choices = ["（暂不处理）", "新建为单位", *units.values()]
    by_name = {v: k for k, v in units.items()}
    with st.form("ledger_unit_form"):
        picks = {}
        for i, name in enumerate(report.unknown_units):
            c1, c2, c3 = st.columns([2, 2, 1])
            c1.markdown(f"**{name}**")
            picks[name] = (
                c2.selectbox("对应到", choices, key=f"ledger_unit_pick_{i}", label_visibility="collapsed", placeholder="请选择"),
                c3.selectbox("类别", list(UnitKind), format_func=lambda k: k.label, key=f"ledger_unit_kind_{i}",
                             label_visibility="collapsed", placeholder="请选择"),
            )  # fmt: skip
        if st.form_submit_button("保存单位对应"):
            with import_action("单位对应"):
                done, handled = 0, set()
                with Session(DB) as session:
                    for name, (pick, kind) in picks.items():
                        if pick == "新建为单位":
                            done += create_unit_for(session, me, name, kind)[1]
                        elif pick in by_name:
                            done += map_unit_alias(session, me, name, by_name[pick])
                        else:
                            continue
                        handled.add(name)
                    session.commit()
                flash("success", f"已保存单位对应，{done} 条已导入的工单已指定单位")
                result = st.session_state.get("ledger_result")
                if result is not None:
                    left = [n for n in result.unknown_units if n not in handled]
                    st.session_state["ledger_result"] = replace(result, unknown_units=left)
                refresh_preview()
                st.rerun()


def column_mapping_form(headers: list[str], key: str) -> None:
    if not headers:
        return
    st.subheader("列映射")
    st.caption(
        "未识别的列已原样保存在工单的“原始列”中；如它其实是某个字段，可在此指定，下次导入自动使用。"
    )
    targets = ["（保留为原始列）", "（忽略此列）", *MAPPABLE_FIELDS]

    def label(t: str) -> str:
        return FIELD_LABELS.get(t, t)

    with st.form(key):
        picks = {
            h: st.selectbox(h, targets, format_func=label, key=f"{key}_{i}", placeholder="请选择")
            for i, h in enumerate(headers)
        }
        if st.form_submit_button("保存列映射"):
            with import_action("列映射"):
                with Session(DB) as session:
                    for header, target in picks.items():
                        if target == "（保留为原始列）":
                            continue
                        save_column_mapping(
                            session, me, header, IGNORE if target == "（忽略此列）" else target
                        )
                    session.commit()
                flash("success", "列映射已保存，已按新映射重新预览")
                refresh_preview()
                st.rerun()


def header_help_form() -> None:
    """When no header was found: let the user name the two required columns."""
    with st.form("ledger_header_form"):
        st.caption(
            "如果文件的表头用了其他名称，请写出“工单编号”和“诉求时间”两列在文件中的表头文字："
        )
        c1, c2 = st.columns(2)
        no = c1.text_input("表示“工单编号”的表头", key="ledger_header_no")
        received = c2.text_input("表示“诉求时间”的表头", key="ledger_header_time")
        if st.form_submit_button("保存并重新预览"):
            with import_action("表头设置"):
                with Session(DB) as session:
                    if no.strip():
                        save_column_mapping(session, me, no, "ticket_no")
                    if received.strip():
                        save_column_mapping(session, me, received, "received_at")
                    session.commit()
                refresh_preview()
                st.rerun()


@contextmanager
def import_action(what: str) -> Iterator[None]:
    """A step of the import page: a refusal names what was not saved (the caller commits
    only at the end, so nothing of the step was written); anything else as user_action."""
    with user_action():
        try:
            yield
        except DubanError as exc:
            st.error(f"{what}未保存：{exc}（数据库未作任何改动）")


def preview_file(name: str, data: bytes) -> None:
    """预览: a dry run of the whole import; a file refused as a whole offers the header help."""
    for key in ("ledger_preview", "ledger_refused", "ledger_result"):
        st.session_state.pop(key, None)
    with user_action():
        try:
            report = run_import(name, data, dry_run=True)
        except ImportRefused as exc:
            st.session_state["ledger_refused"] = str(exc)
            return
        st.session_state["ledger_preview"] = (name, data, report)


def refresh_preview() -> None:
    """Preview the same file again after a mapping changed (still a dry run)."""
    preview = st.session_state.get("ledger_preview")
    if preview:
        preview_file(*preview[:2])


def import_tab() -> None:
    if not CAN_IMPORT:
        st.info("当前账号无权导入工单")
        return
    st.caption(
        "支持 12345 平台导出的 .xlsx / .xls / .csv（UTF-8 或 GBK）。先预览，确认无误后再导入。"
    )
    upload = st.file_uploader("选择导出文件", type=["xlsx", "xls", "csv"], key="ledger_upload")
    if upload is not None and st.button("预览", key="ledger_preview_button"):
        preview_file(upload.name, upload.getvalue())
    if "ledger_refused" in st.session_state:
        st.error("文件未导入：" + st.session_state["ledger_refused"] + "（数据库未作任何改动）")
        header_help_form()
    with Session(DB) as session:
        units = live_units(session, me)
    preview = st.session_state.get("ledger_preview")
    if preview:
        name, data, report = preview
        st.subheader(f"预览：{literal(name)}")
        report_view(report)
        if st.button("确认导入", type="primary", key="ledger_confirm"):
            with import_action("导入"):
                result = run_import(name, data, dry_run=False)
                st.session_state["ledger_result"] = result
                st.session_state.pop("ledger_preview", None)
                next_generation()
                st.rerun()
        unit_mapping_form(report, units)
        column_mapping_form(report.unknown_headers, "ledger_columns_form")
    result = st.session_state.get("ledger_result")
    if result:
        st.success(
            f"导入完成（批次 {result.batch_id}）：新增 {result.inserted} 条，更新 {result.updated} 条，"
            f"未变化 {result.unchanged} 条，未导入 {result.rejected} 条"
        )
        report_view(result)
        unit_mapping_form(result, units)
        column_mapping_form(result.unknown_headers, "ledger_columns_form_done")


# --- 回收站 and detail ----------------------------------------------------------------------------


def recycle_tab() -> None:
    with Session(DB) as session:
        page = query_tickets(session, me, TicketFilter(deleted=True), page_size=200)
    if not page.rows:
        st.info("回收站是空的")
        return
    st.caption(f"已删除的工单共 {page.total} 条（显示最近 {len(page.rows)} 条）")
    st.dataframe(
        pd.DataFrame([{"工单编号": r["ticket_no"], "诉求时间": when(r["received_at"]), "诉求地址": r["address"],
                       "删除时间": when(r["deleted_at"])} for r in page.rows]),
        hide_index=True,
    )  # fmt: skip
    if not CAN_EDIT:
        return
    ids = {r["ticket_no"]: r["id"] for r in page.rows}
    picked = st.multiselect(
        "选择要恢复的工单", list(ids), key="ledger_restore_pick", placeholder="请选择（可多选）"
    )
    if st.button("恢复选中工单", key="ledger_restore", disabled=not picked):
        with user_action():
            with Session(DB) as session:
                restored = restore_tickets(session, me, [ids[n] for n in picked])
                session.commit()
            flash("success", f"已恢复 {len(restored)} 条工单")
            next_generation()
            st.rerun()


def detail_view(ticket_id: int) -> None:
    with Session(DB) as session:
        detail = ticket_detail(session, me, ticket_id)
        imports, trail = log_lines(session, detail.imports), log_lines(session, detail.trail)
    t = detail.ticket
    st.subheader(f"工单 {t['ticket_no']}")
    fields = {
        "工单编号": t["ticket_no"], "诉求时间": when(t["received_at"]), "标题": t["title"],
        "诉求地址": t["address"], "内容描述": t["content"], "问题分类": t["category"],
        "承办单位": detail.unit_name or "（未匹配）", "平台承办单位": t["unit_raw"],
        "诉求人": t["caller"], "联系电话": t["phone"], "办理时限": when(t["platform_due_at"]),
        "工单状态": t["platform_status"],
        "回访结果": CallbackResult(t["callback_result"]).label if t["callback_result"] else "",
        "是否解决": {True: "是", False: "否", None: ""}[t["resolved"]],
        "市级督办": "是" if t["city_supervised"] else "否",
        "备注": t["notes"], "标签": t["tags"], "重复组": t["repeat_group"],
        "状态": "已删除（在回收站中）" if t["deleted_at"] else "正常",
    }  # fmt: skip
    values = [EMPTY if v is None or v == "" else str(v) for v in fields.values()]
    st.table(pd.DataFrame({"值": values}, index=list(fields)))
    st.markdown("**原始列（导入时未识别的列）**")
    if detail.raw:
        st.table(pd.DataFrame({"值": list(detail.raw.values())}, index=list(detail.raw)))
    else:
        st.caption("无")
    st.markdown("**关联督办事项**")
    if detail.cases:
        for case in detail.cases:
            st.markdown(
                f"- [{case['case_no']}](/cases?case={case['id']}) {literal(case['title'])}（{case['level']}，{case['status']}，立案 {cn_date(case['opened_at'])}）"
            )
    else:
        st.caption("尚未立案")
    if detail.rules:
        st.markdown(
            "**专题会处置规则建议**（同类事项已明确的处置部门和路径，仅供参考，未自动应用）"
        )
        for rule in detail.rules:
            st.markdown(f"- {literal(rule.name)}：{literal(rule.handling_path)}")
    st.markdown("**导入记录**")
    if detail.created_by_batch:
        b = detail.created_by_batch
        st.caption(f"首次导入：批次 {b.id}，文件“{literal(b.file_name)}”，{when(b.created_at)}")
    st.dataframe(audit_frame(imports), hide_index=True)
    st.markdown("**修改记录**")
    st.dataframe(audit_frame(trail), hide_index=True)


def audit_frame(entries: list[LogLine]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"时间": when(e.at), "操作人": e.person, "操作": e.action, "字段": e.field,
          "原值": e.old, "新值": e.new, "说明": e.note} for e in entries],
        columns=["时间", "操作人", "操作", "字段", "原值", "新值", "说明"],
    )  # fmt: skip


def detail_tab() -> None:
    number = st.text_input("输入工单编号查看详情", key="ledger_detail_no")
    if number.strip():
        with user_action():
            with Session(DB) as session:
                ticket_id = find_ticket_id(session, me, number)
            detail_view(ticket_id)


# --- page ---------------------------------------------------------------------------------------

if st.session_state.pop("ledger_go_case_new", False):
    st.switch_page("pages/case_new.py")
st.title("工单台账")
show_flash()
param = st.query_params.get("ticket")
if param:
    if st.button("← 返回台账", key="ledger_back"):
        del st.query_params["ticket"]
        st.rerun()
    with user_action():
        try:
            detail_view(int(param))
        except ValueError as exc:
            raise NotFound(f"工单编号参数无效：{param}") from exc
    st.stop()

# Only the open tab runs (a click on another tab reruns the page with that one).
views = {"台账": ledger_tab, "手工录入": manual_tab, "导入": import_tab, "回收站": recycle_tab,
         "工单详情": detail_tab}  # fmt: skip
if not CAN_EDIT:
    del views["手工录入"]
if not CAN_IMPORT:
    del views["导入"]
for tab, view in zip(
    st.tabs(list(views), key="ledger_tab", on_change="rerun"), views.values(), strict=True
):
    if tab.open:
        with tab:
            view()

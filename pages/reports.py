"""报表: the KPIs interactively (filters by period, unit, level), the unit assessment, the
协调督办工作报告 docx, typical cases, and (admins) the scoring rules.

Numbers come from `duban.kpi`, the same functions the report document and the assessment
use. Session keys are prefixed `reports_`.
"""

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st
from sqlmodel import Session

from duban import assessment, kpi, reports
from duban.clock import cn_date, today
from duban.enums import Level, Scope
from duban.kpi import Period, Selection
from duban.permissions import Perm
from duban.units import live_units
from duban.workdays import Calendar
from ui import charts, chasing_data
from ui.common import actor, engine, literal, user_action
from ui.shared import change_stamp

me = actor()
st.title("报表")

# --- filters ----------------------------------------------------------------------------------

with Session(engine()) as session:
    unit_names = live_units(session, me)
this_year = today().year
years = list(range(this_year, this_year - 6, -1))

cols = st.columns([2.2, 1, 1, 2.4, 1.8])
kind = cols[0].segmented_control(
    "统计区间",
    ["月度", "季度", "年度", "自定义"],
    default="年度",
    required=True,
    key="reports_kind",
)
if kind == "自定义":
    picked = cols[1].date_input(
        "起止日期", value=(date(this_year, 1, 1), today()), key="reports_range", format="YYYY-MM-DD"
    )
    chosen_days = list(picked) if isinstance(picked, tuple) else [picked]
    start, end = chosen_days[0], chosen_days[-1]  # one day picked so far: that day
else:
    year = cols[1].selectbox("年份", years, key="reports_year", placeholder="请选择")
    if kind == "月度":
        month = cols[2].selectbox(
            "月份",
            range(1, 13),
            index=today().month - 1,
            format_func=lambda m: f"{m}月",
            key="reports_month",
            placeholder="请选择",
        )
    elif kind == "季度":
        quarter = cols[2].selectbox(
            "季度",
            [1, 2, 3, 4],
            format_func=lambda q: f"第{kpi.QUARTERS[q - 1]}季度",
            key="reports_quarter",
            placeholder="请选择",
        )
unit_ids = cols[3].multiselect(
    "承办单位",
    list(unit_names),
    format_func=unit_names.get,
    placeholder="全部单位",
    key="reports_units",
)
levels = cols[4].multiselect(
    "督办类型",
    list(Level),
    format_func=lambda lv: lv.label,
    placeholder="全部类型",
    key="reports_levels",
)

period: Period | None = None
with user_action():
    if kind == "自定义":
        period = Period(start, end)
    elif kind == "月度":
        period = Period.month(year, month)
    elif kind == "季度":
        period = Period.quarter(year, quarter)
    else:
        period = Period.year(year)
if period is None:
    st.stop()

sel = Selection(period, frozenset(unit_ids), frozenset(levels), as_of=today())
with Session(engine()) as session:
    calendar = Calendar.load(session)
    # the per-level table from the same grouped queries as the unit table
    figures = reports.report_figures(session, me, sel, calendar, with_levels=True)
    assert figures.levels is not None
    per_level = figures.levels
    months = reports.report_months(session, me, sel)
o = figures.overall
st.caption(
    f"统计区间：{period.label}（{cn_date(period.start)}—{cn_date(period.end)}），"
    f"逾期按 {cn_date(sel.as_of)} 判断。每个比率下方为 分子 / 分母，口径见下方“指标口径”。"
)
with st.expander("指标口径（计算公式）"):
    st.table(
        pd.DataFrame(
            [{"指标": n, "计算公式": f, "说明": note} for n, f, note in kpi.FORMULAS]
        ).set_index("指标")
    )


def rate_metric(col, label: str, ratio: kpi.Ratio, help_text: str) -> None:
    col.metric(label, ratio.percent(), help=help_text, border=True)
    col.caption(f"{ratio.numerator} / {ratio.denominator}")


tab_names = ["指标概览", "承办单位", "绩效考核", "工作报告", "典型案例"]
is_admin = me.can(Perm.MANAGE_SETTINGS)
if is_admin:
    tab_names.append("考核规则")
tabs = st.tabs(tab_names)

# --- 指标概览 ------------------------------------------------------------------------------

with tabs[0]:
    row = st.columns(4)
    row[0].metric("督办件数", o.cases, border=True)
    row[0].caption("本期新确定的督办事项")
    rate_metric(
        row[1],
        "按时反馈率",
        o.on_time_rate,
        "按时合规反馈的到期环节 ÷ 到期环节（逾期未反馈计为逾期）",
    )
    rate_metric(row[2], "办结率", o.closure_rate, "本期确定且期末前办结 ÷ 本期确定")
    rate_metric(row[3], "提级率", o.escalation_rate, "本期确定且提级过的事项 ÷ 本期确定")
    row = st.columns(4)
    rate_metric(
        row[0], "及时登记率", o.registration_rate, "当天登记的现场协调督办通知 ÷ 发出的通知"
    )
    rate_metric(
        row[1],
        "重复投诉率",
        o.repeat_rate,
        "属于重复投诉组的工单 ÷ 受理工单（不受督办类型筛选影响）",
    )
    rate_metric(
        row[2], "回访满意率", o.satisfaction_rate, "(满意 + 基本满意) ÷ 已回访工单，未回访不计入"
    )
    avg = o.avg_workdays_to_close
    row[3].metric("平均办结用时", "—" if avg is None else f"{avg:.1f} 个工作日", border=True)
    row[3].caption(f"本期办结 {o.cases_closed_in_period} 件")
    row = st.columns(4)
    row[0].metric("提级次数", o.escalations, border=True)
    row[1].metric("移交纪委监察办", o.referrals, border=True)
    row[2].metric("不合规反馈", o.noncompliant_feedback, border=True)
    row[3].metric(
        "未到期环节", o.steps_pending, border=True, help="本期到期但尚未到截止日、尚无合规反馈"
    )

    st.altair_chart(charts.cases_by_month(months), width="stretch")
    left, right = st.columns(2)
    with left:
        st.subheader("按督办类型")
        level_rows = reports.kpi_table(list(per_level.values()), "督办类型")
        for level_row, level in zip(level_rows, per_level, strict=True):
            level_row["督办类型"] = level.label
        st.dataframe(pd.DataFrame(level_rows), hide_index=True)
    with right:
        st.subheader("按督办范围")
        scope_frame = pd.DataFrame(
            {"督办范围": [s.label for s in Scope], "件数": [o.by_scope[s] for s in Scope]}
        )
        st.altair_chart(
            alt.Chart(scope_frame)
            .mark_bar()
            .encode(
                y=alt.Y("督办范围:N", sort=None, title=None, axis=alt.Axis(labelLimit=320)),
                x=alt.X("件数:Q"),
                tooltip=["督办范围", "件数"],
            ),
            width="stretch",
        )

# --- 承办单位 ------------------------------------------------------------------------------

with tabs[1]:
    if not figures.units:
        st.info("本期所选范围内没有督办数据。")
    else:
        st.dataframe(
            pd.DataFrame(reports.kpi_table(figures.units + [o])),
            hide_index=True,
        )
        measured = [u for u in figures.units if u.on_time_rate.denominator]
        if measured:
            st.altair_chart(
                charts.on_time_by_unit(measured, title="各承办单位按时反馈率（%）", sort="-x"),
                width="stretch",
            )

    st.subheader("签收、催办与延期")
    st.caption(
        "及时签收率 = 发出后规定工作日内签收的督办单和通知 ÷（及时 + 超时或过期未签收）；"
        "催办次数按催办日期、延期申请按申请日期计入本期；口径见本页“指标口径”。"
    )
    chased = chasing_data.figures(change_stamp(), period, sel.as_of)
    st.dataframe(chasing_data.figures_frame(chased), hide_index=True)

# --- 绩效考核 ------------------------------------------------------------------------------

with tabs[2]:
    st.caption(
        "年度绩效考核一般按“年度”区间查看；得分 = 基础分 − 扣分 + 加分，每项扣分可追溯到督办事项。"
    )
    with Session(engine()) as session:
        result = reports.report_scores(session, me, sel, computed=figures)
    summary = pd.DataFrame(assessment.summary_rows(result), columns=assessment.SUMMARY_HEADERS)
    st.dataframe(summary, hide_index=True)
    st.download_button(
        "下载考核表（xlsx）",
        lambda: assessment.to_xlsx(result),  # built on click
        file_name=f"{result.title}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="reports_assessment_xlsx",
    )
    names = [s.unit_name for s in result.sheets]
    if names:
        chosen = st.selectbox(
            "查看单位明细", names, key="reports_assessment_unit", placeholder="请选择"
        )
        sheet = next(s for s in result.sheets if s.unit_name == chosen)
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "考核项目": item.label,
                        "督办编号": item.case_no,
                        "事由": item.case_title,
                        "日期": cn_date(item.day),
                        "说明": item.detail,
                        "分值": assessment.points(item.points),
                    }
                    for item in sheet.items
                ],
                columns=["考核项目", "督办编号", "事由", "日期", "说明", "分值"],
            ),
            hide_index=True,
        )
        st.markdown(
            f"**{chosen}**：基础分 {assessment.points(sheet.base)}，扣分 {assessment.points(sheet.deductions)}，"
            f"加分 {assessment.points(sheet.bonus)}，得分 **{assessment.points(sheet.score)}**，排名第 {sheet.rank} 位。"
        )

# --- 工作报告 ------------------------------------------------------------------------------

with tabs[3]:
    st.caption(
        "按所选统计区间生成《协调督办工作报告》（Word 文档）：总体情况、分类型与分单位统计、提级办理事项、"
        "专题会及处置规则、移交纪委监察办事项、典型案例、考核得分和统计图。单位与类型筛选不影响报告。"
    )
    if me.can(Perm.RENDER_DOCUMENTS) and st.button(
        "生成工作报告", type="primary", key="reports_generate"
    ):
        with user_action():
            with Session(engine()) as session:
                rendered = reports.render_work_report(session, me, period)
                session.commit()
            st.session_state["reports_docx"] = rendered
    rendered = st.session_state.get("reports_docx")
    if rendered is not None:
        st.success(f"已生成：{literal(rendered.file_name)}")
        st.download_button(
            "下载工作报告（docx）",
            rendered.content,
            file_name=rendered.file_name,
            mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            key="reports_docx_download",
        )
    elif not me.can(Perm.RENDER_DOCUMENTS):
        st.info("生成工作报告需要城运中心或管理员账号。")

# --- 典型案例 ------------------------------------------------------------------------------

with tabs[4]:
    st.caption(
        "典型案例由城运中心选定并撰写说明，列入本期工作报告（按事项确定或办结日期归入统计区间）。"
    )
    with Session(engine()) as session:
        typical = reports.report_typical(session, me, period)
    if typical:
        st.dataframe(
            pd.DataFrame(
                [
                    {"督办编号": c.case_no, "事由": c.title, "承办单位": c.units, "说明": c.outcome}
                    for c in typical
                ]
            ),
            hide_index=True,
        )
    else:
        st.info("本期尚未选定典型案例。")
    if me.can(Perm.EDIT_CASES):
        with st.form("reports_typical_form"):
            case_no = st.text_input("督办编号", key="reports_typical_case_no")
            text = st.text_area("典型案例说明（将印入工作报告）", key="reports_typical_text")
            c1, c2 = st.columns(2)
            mark = c1.form_submit_button("选为典型案例", type="primary")
            unmark = c2.form_submit_button("取消典型案例")
        if mark or unmark:
            with user_action():
                with Session(engine()) as session:
                    found = reports.report_case(session, me, case_no)
                    if mark:
                        reports.mark_typical(
                            session, me, found.id, text, expected_version=found.version
                        )
                    else:
                        reports.unmark_typical(
                            session, me, found.id, expected_version=found.version
                        )
                    session.commit()
                    st.success(f"{'已选为' if mark else '已取消'}典型案例：{found.case_no}")

# --- 考核规则 (admins) --------------------------------------------------------------------

if is_admin:
    with tabs[5]:
        st.caption(
            "得分 = 基础分 − 各项扣分 + 按时反馈率达标加分。修改后立即用于所有考核计算，并记入操作日志。"
        )
        with Session(engine()) as session:
            rules = reports.report_rules(session, me)
        with st.form("reports_rules_form"):
            values = {}
            for name, label in assessment.RULE_LABELS.items():
                values[name] = st.number_input(
                    label,
                    min_value=0.0,
                    max_value=float(assessment.RULE_LIMITS.get(name, 100)),
                    value=float(getattr(rules, name)),
                    step=0.5,
                    key=f"reports_rule_{name}",
                )
            if st.form_submit_button("保存考核规则", type="primary"):
                with user_action():
                    with Session(engine()) as session:
                        assessment.save_rules(session, me, values)
                        session.commit()
                    st.success("考核规则已保存")

"""The fields a template may use, per kind: name, meaning and example."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldSpec:
    """One field a template may use: `{{ name }}`, or a list of rows with `items`."""

    name: str
    label: str  # the meaning, in Chinese
    example: str = ""
    items: tuple[FieldSpec, ...] = ()  # for a list: the fields of each row (`{{ t.ticket_no }}`)
    image: bool = False  # an `ImageSpec` (a chart), placed with `{{ chart }}` in its own run

    @property
    def is_list(self) -> bool:
        return bool(self.items)


def f(name: str, label: str, example: str = "", **kw: Any) -> FieldSpec:
    return FieldSpec(name, label, example, **kw)


OFFICE_FIELDS = (
    f("office_name", "发文单位（系统设置“office_name”）", "青浦区赵巷镇城市运行管理中心"),
    f("office_contact", "城运中心联系人（系统设置“office_contact”）", "王敏"),
    f("office_phone", "城运中心联系电话（系统设置“office_phone”）", "021-59751234"),
    f(
        "contact_note",
        "联系人和电话一句（未设置的部分省略，都未设置时为空，不印空括号）",
        "（联系人：王敏，联系电话：021-59751234）",
    ),
    f("issue_date", "成文日期（本文书所属环节的日期，从不取生成当天）", "2024年1月24日"),
)

TICKET_ITEMS = (
    f("ticket_no", "工单编号", "20240301000123"),
    f("received_at", "诉求时间", "2024年3月1日 9:00"),
    f("address", "诉求地址", "赵巷镇示例路 88 弄 12 号"),
    f("content", "内容描述", "夜间施工噪声扰民，晚上十一点后仍在作业，影响休息"),
    f("title", "工单标题", "夜间施工噪声扰民"),
    f("category", "诉求分类", "噪声扰民"),
    f("unit", "工单承办单位", "镇生态环境办"),
    f("long", "内容描述超过半页（其内容行可跨页；否则整件工单排在同一页）", ""),
)

CASE_FIELDS = (
    f("case_no", "督办编号", "赵巷督〔2024〕第007号"),
    f("case_title", "督办事项（事由）", "示例路工地夜间施工噪声扰民"),
    f("scope", "协调督办范围", "重复投诉多次，且办理工作未有明显进展的事项"),
    f("level", "督办类型（本文书对应的督办级别）", "书面督办"),
    f("opened_at", "立项日期", "2024年3月4日"),
    f("units", "承办单位（主办在前，协办注明）", "镇生态环境办（主办）、示例三村村委会（协办）"),
    f("lead_unit", "主办单位", "镇生态环境办"),
    f("co_units", "协办单位（以“、”分隔）", "示例三村村委会"),
    f("source_note", "交办来源（如领导批示内容）", "区领导批示：请赵巷镇尽快处置"),
    f("related_info", "相关情况", "该工单此前已派单 3 次，市民对办理结果不满意"),
    f("opinion", "督办意见", "请镇生态环境办会同示例三村村委会现场核查，依法处置"),
    f("result_text", "督办情况（办结时填写）", "已责令施工单位夜间停工，市民表示满意"),
    f("ticket_nos", "全部工单编号（以“、”分隔）", "20240301000123、20240305000456"),
    f(
        "ticket_no_lines",
        "全部工单编号，以“、”分隔、按回执的格宽分行（编号不从中间断开）",
        "20240301000123、20240305000456",
    ),
    f("ticket_count", "工单数", "2"),
    f("tickets", "工单明细（每件工单一行/一组）", items=TICKET_ITEMS),
    f(
        "case_summary",
        "事项概况（系统根据督办事项生成的一段话）",
        "督办事项“示例路工地夜间施工噪声扰民”（赵巷督〔2024〕第007号）属于……",
    ),
)

DUE_FIELDS = (
    f("due_at", "反馈期限（暂估时注明“（暂估）”）", "2024年3月11日"),
    f("due_workdays", "反馈期限的工作日数", "5"),
)

STEP_ITEMS = (
    f("kind", "督办环节", "督办单"),
    f("level", "督办类型", "书面督办"),
    f("issued_at", "发出日期", "2024年3月4日"),
    f("unit", "承办单位", "镇生态环境办"),
    f("due_at", "反馈期限", "2024年3月11日"),
    f("status", "环节状态", "已提级"),
    f("feedback_date", "书面反馈日期", "2024年3月8日"),
    f("feedback_text", "书面反馈内容", "已约谈施工单位"),
    f("progress", "处置进展", "无进展"),
)

ONSITE_FIELDS = (
    f("subject", "协调督办事由", "示例路工地夜间施工噪声扰民"),
    f("location", "协调督办地点", "示例路 88 弄工地门口"),
    f("scheduled_at", "现场协调督办时间", "2024年3月12日 9:30"),
    f("procedure", "协调督办流程", "1. 实地踏勘；2. 听取承办单位汇报；3. 明确处置责任和时限"),
    f("attendees", "出席范围", "镇生态环境办、镇城管中队、示例三村村委会负责人"),
    f("contact_name", "联系人（未填写时取城运中心联系人）", "王敏"),
    f("contact_phone", "联系电话（未填写时取城运中心电话）", "021-59751234"),
    f("remark", "备注", "请承办单位当天登记并报告主要领导"),
)

REPORT_FIELDS = (
    f(
        "report_title",
        "标题（按词意回行，每行一段）",
        "关于示例路工地夜间施工噪声扰民\n有关情况的专报",
    ),
    f("situation", "有关情况（专报环节填写）", "该事项市民反映强烈，三个月内来电 12 次……"),
    f("analysis", "原因分析（专报环节填写，可为空）", "涉及施工许可和夜间执法两个部门职责……"),
    f("suggestion", "建议（专报环节填写，可为空）", "建议由镇城建中心牵头，镇城管中队配合……"),
    f("recipient", "报送对象", "镇主要领导、镇政府分管领导"),
)

ESCALATION_FIELDS = (
    f(
        "report_title",
        "标题（按词意回行，每行一段）",
        "关于“示例路工地夜间施工噪声扰民”\n提级办理的报告",
    ),
    f("recipient", "主送（批办对象）", "镇分管领导"),
    f("steps", "督办经过（报告日期及以前的督办环节，每环节一行）", items=STEP_ITEMS),
    f(
        "escalation_reason",
        "提级理由（提级办理报告环节填写）",
        "经书面督办、现场协调督办后仍无处置进展",
    ),
    f(
        "request",
        "请示事项（提级办理报告环节填写）",
        "建议由镇城建中心牵头，镇城管中队配合，限期处置",
    ),
)

RULE_ITEMS = (
    f("name", "事项类别", "小区内违章搭建"),
    f("category", "对应工单分类", "违章搭建"),
    f("keywords", "关键词", "阳光房、搭建"),
    f("unit", "处置部门", "镇城管中队"),
    f("handling_path", "处置路径", "城管中队立案查处，村居配合劝导"),
)

MEETING_CASE_ITEMS = (
    f("case_no", "督办编号", "赵巷督〔2024〕第007号"),
    f("title", "督办事项", "示例路工地夜间施工噪声扰民"),
    f("units", "承办单位", "镇生态环境办"),
    f("level", "督办类型", "提级协调督办"),
)

MEETING_FIELDS = (
    f("meeting_title", "纪要标题（“…专题会纪要”，按词意回行）", "12345市民服务热线工作专题会纪要"),
    f("held_at", "会议日期", "2024年3月20日"),
    f("chair", "主持人（镇分管领导）", "李副镇长"),
    f("attendees", "出席人员", "镇城运中心、镇城建中心、镇城管中队负责人"),
    f("summary", "会议指示要求", "各承办单位要高度重视热线办理……"),
    f(
        "decisions",
        "会议议定事项（每个同类事项的处置部门和路径一条，编号“（一）”起）",
        items=(f("text", "议定事项", "（一）小区内违章搭建类事项，由镇城管中队负责处置……"),),
    ),
    f("rules", "会议明确的同类事项处置部门和路径", items=RULE_ITEMS),
    f("cases", "会议研究的督办事项", items=MEETING_CASE_ITEMS),
)

RECEIPT_FIELDS = (
    f("addressee", "承办单位（本环节的收件单位）", "镇生态环境办"),
    f("step_kind", "督办环节", "督办单"),
    f("issued_at", "督办日期（环节发出日期）", "2024年3月4日"),
    f("feedback_text", "处置情况（已登记反馈时填入，否则空白待填）", ""),
    f("feedback_date", "反馈日期（未反馈时为空白日期栏）", "　　年　　月　　日"),
    f("progress_marks", "处置进展勾选栏", "☐已办结　☐有进展　☐无进展"),
)

# 协调督办工作报告 (duban.reports builds the context; the figures' formulas: docs/KPI.md)
CHASE_FIELDS = (
    f("chase_date", "催办日期", "2024年3月12日"),
    f("addressee", "被催办单位", "镇生态环境办"),
    f("step_kind", "被催办的督办环节", "督办单"),
    f("issued_at", "环节发出日期", "2024年3月4日"),
    f("chase_status", "办理状态（已逾期几个工作日，或还剩几个工作日）", "已逾期 1 个工作日"),
    f("chase_count", "本环节第几次催办", "2"),
    f("chase_note", "催办要求", "请于接到本通知后立即落实处置，并书面反馈处置情况"),
)

KPI_ITEMS = (
    f("cases", "督办件数（本期确定）", "120"),
    f("closed", "已办结（期末前）", "96"),
    f("closure_rate", "办结率", "80.0%"),
    f("due", "到期环节数", "150"),
    f("on_time", "按时反馈环节数", "138"),
    f("on_time_rate", "按时反馈率", "92.0%"),
    f("escalations", "提级次数", "9"),
    f("noncompliant", "不合规反馈份数", "4"),
    f("referrals", "移交纪委监察办件数", "1"),
    f("avg_days", "平均办结用时（工作日）", "6.5"),
)
REPORT_CASE_ITEMS = (
    f("case_no", "督办编号", "赵巷督〔2024〕第007号"),
    f("title", "督办事项", "示例路工地夜间施工噪声扰民"),
    f("units", "承办单位", "镇生态环境办、示例三村村委会"),
    f("level", "督办类型", "提级协调督办"),
    f("opened_at", "立项日期", "2024年3月4日"),
    f("status", "办理状态", "已办结"),
    f("outcome", "办理结果（典型案例为其说明）", "已办结（2024年3月20日）：已责令施工单位夜间停工"),
)
WORK_REPORT_FIELDS = (
    f("report_title", "报告标题", "2024年第一季度12345市民服务热线协调督办工作报告"),
    f("period", "统计区间", "2024年第一季度"),
    f("period_start", "统计开始日期", "2024年1月1日"),
    f("period_end", "统计结束日期", "2024年3月31日"),
    f("as_of", "统计截止日（逾期判断日）", "2024年4月2日"),
    f("overview", "总体情况（系统生成的一段话）", "2024年第一季度，共确定督办事项 120 件……"),
    f(
        "rates",
        "主要指标（比率及其分子、分母）",
        items=(
            f("name", "指标", "按时反馈率"),
            f("value", "比率", "92.0%"),
            f("numerator", "分子", "138"),
            f("denominator", "分母", "150"),
        ),
    ),
    f(
        "levels",
        "分督办类型统计（末行为合计）",
        items=(f("level", "督办类型", "书面督办"), *KPI_ITEMS),
    ),
    f(
        "scopes",
        "分督办范围件数",
        items=(f("scope", "督办范围", "市级督办事项"), f("cases", "件数", "12")),
    ),
    f(
        "units",
        "分承办单位统计（末行为合计）",
        items=(f("unit", "承办单位", "镇城建中心"), *KPI_ITEMS),
    ),
    f("escalated", "提级办理事项及办理结果", items=REPORT_CASE_ITEMS),
    f(
        "meetings",
        "召开的专题会",
        items=(
            f("held_at", "会议日期", "2024年3月20日"),
            f("title", "会议名称", "12345 热线工作专题会"),
            f("chair", "主持人", "李副镇长"),
            f("summary", "会议指示要求", "各承办单位要高度重视……"),
            f("cases", "研究事项数", "3"),
            f("rules", "明确的处置规则（概述）", "小区内违章搭建：镇城管中队"),
        ),
    ),
    f(
        "routing_rules",
        "专题会明确的同类事项处置部门和路径",
        items=(
            f("held_at", "会议日期", "2024年3月20日"),
            f("name", "事项类别", "小区内违章搭建"),
            f("unit", "处置部门", "镇城管中队"),
            f("handling_path", "处置路径", "城管中队立案查处，村居配合劝导"),
        ),
    ),
    f(
        "referrals",
        "移交镇纪委监察办的事项",
        items=(
            f("case_no", "督办编号", "赵巷督〔2024〕第007号"),
            f("title", "督办事项", "示例路工地夜间施工噪声扰民"),
            f("unit", "主办单位", "镇生态环境办"),
            f("referred_at", "移交日期", "2024年3月25日"),
            f("reason", "移交原因", "主观推诿，整改不力"),
        ),
    ),
    f("typical", "典型案例（城运中心选定并撰写说明）", items=REPORT_CASE_ITEMS),
    f("assessment_title", "考核表标题", "2024年第一季度承办单位协调督办绩效考核"),
    f("assessment_rules", "考核规则（一句话）", "基础分 100 分，每个逾期环节扣 2 分……"),
    f(
        "assessment",
        "承办单位考核得分（按排名）",
        items=(
            f("rank", "排名", "1"),
            f("unit", "承办单位", "镇城建中心"),
            f("cases", "督办件数（涉及该单位的事项，主办、协办各计）", "6"),
            f("due", "到期环节数（按时反馈率的分母）", "14"),
            f("on_time", "按时反馈环节数（按时反馈率的分子）", "13"),
            f("overdue", "逾期环节数", "2"),
            f("escalations", "提级次数", "1"),
            f("noncompliant", "不合规反馈数", "0"),
            f("referrals", "移交纪委监察办数", "0"),
            f("on_time_rate", "按时反馈率", "92.0%"),
            f("deductions", "扣分", "7"),
            f("bonus", "加分", "0"),
            f("score", "得分", "93"),
        ),
    ),
    f(
        "unassessed_note",
        "无督办事项、不参与排名的单位（一句话；都有督办事项时为空）",
        "本期无督办事项、不参与排名的单位（2 个）：示例一村村委会、示例二村村委会。",
    ),
    f("chart_months", "统计图：各月新增督办事项", image=True),
    f("chart_on_time", "统计图：各承办单位按时反馈率", image=True),
)

"""The registry of kinds: template file, declared fields and context builder of each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from duban.documents.contexts import (
    FEEDBACK_STEPS,
    escalation_report_context,
    feedback_receipt_context,
    meeting_minutes_context,
    onsite_notice_context,
    special_report_context,
    supervision_form_context,
)
from duban.documents.fields import (
    CASE_FIELDS,
    CHASE_FIELDS,
    DUE_FIELDS,
    ESCALATION_FIELDS,
    MEETING_FIELDS,
    OFFICE_FIELDS,
    ONSITE_FIELDS,
    RECEIPT_FIELDS,
    REPORT_FIELDS,
    WORK_REPORT_FIELDS,
    FieldSpec,
)
from duban.documents.sources import Source
from duban.enums import DocumentKind, StepKind
from duban.errors import ValidationError

ContextBuilder = Callable[[Source], dict[str, Any]]


@dataclass(frozen=True)
class KindSpec:
    """A kind of document: its template, its fields and how they are filled."""

    kind: DocumentKind
    description: str  # one line for the template README and the pages
    fields: tuple[FieldSpec, ...]
    build: ContextBuilder | None = None  # None: the caller supplies the context (render_kind)
    step_kinds: tuple[StepKind, ...] = ()  # the steps the paper is printed for (newest used)
    batch: bool = False  # offered in the batch zip of many cases
    meeting: bool = False  # printed from a 专题会

    @property
    def template(self) -> str:
        return f"{self.kind.value}.docx"

    @property
    def title(self) -> str:
        return self.kind.label

    def field_names(self) -> set[str]:
        return {fs.name for fs in self.fields}


KINDS: dict[DocumentKind, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            DocumentKind.SUPERVISION_FORM,
            "《工作机制》附件1“12345 市民服务热线督办单”，书面督办时派送承办单位；多件工单逐件列出。",
            OFFICE_FIELDS + CASE_FIELDS + DUE_FIELDS,
            supervision_form_context,
            step_kinds=(StepKind.SUPERVISION_FORM,),
            batch=True,
        ),
        KindSpec(
            DocumentKind.ONSITE_NOTICE,
            "《工作机制》附件2“12345 市民服务热线现场协调督办通知”，取自现场协调督办环节填写的事由、地点、流程等。",
            OFFICE_FIELDS + CASE_FIELDS + DUE_FIELDS + ONSITE_FIELDS,
            onsite_notice_context,
            step_kinds=(StepKind.ONSITE_NOTICE,),
            batch=True,
        ),
        KindSpec(
            DocumentKind.SPECIAL_REPORT,
            "工作专报：市民反映强烈、影响面广的重大诉求事项，报镇主要领导、镇政府分管领导（情况、原因分析、建议取自工作专报环节）。",
            OFFICE_FIELDS + CASE_FIELDS + REPORT_FIELDS,
            special_report_context,
            step_kinds=(StepKind.SPECIAL_REPORT,),
        ),
        KindSpec(
            DocumentKind.ESCALATION_REPORT,
            "提级办理报告：已提级的事项，城运中心梳理汇总督办经过，写明提级理由和请示事项，报请镇分管领导批办（取自“报请分管领导批办”环节）。",
            OFFICE_FIELDS + CASE_FIELDS + ESCALATION_FIELDS,
            escalation_report_context,
            step_kinds=(StepKind.ESCALATION_REPORT,),
        ),
        KindSpec(
            DocumentKind.MEETING_MINUTES,
            "专题会纪要：镇分管领导专题会的指示要求、同类事项的处置部门和处置路径、研究的督办事项。",
            OFFICE_FIELDS + MEETING_FIELDS,
            meeting_minutes_context,
            meeting=True,
        ),
        KindSpec(
            DocumentKind.FEEDBACK_RECEIPT,
            "书面反馈回执：承办单位填写处置情况，由单位主要领导签字并加盖单位公章后反馈城运中心。",
            OFFICE_FIELDS + CASE_FIELDS + DUE_FIELDS + RECEIPT_FIELDS,
            feedback_receipt_context,
            step_kinds=FEEDBACK_STEPS,
            batch=True,
        ),
        KindSpec(
            DocumentKind.CHASE_NOTICE,
            "催办通知：督办环节临近或超过反馈期限仍未书面反馈时，城运中心书面催办承办单位（由 duban.chasing 在登记书面催办时生成）。",
            OFFICE_FIELDS + CASE_FIELDS + DUE_FIELDS + CHASE_FIELDS,
        ),
        KindSpec(
            DocumentKind.WORK_REPORT,
            "协调督办工作报告：某一期间（月、季、年或任意区间）的督办情况、指标、提级事项、专题会、移交纪委监察办事项、典型案例、考核得分和统计图，报送区镇领导、党政办和承办单位（由 duban.reports 生成）。",
            OFFICE_FIELDS + WORK_REPORT_FIELDS,
        ),
    )
}
"""Every kind the application renders; the template README is generated from it."""


def kind_spec(kind: DocumentKind | str) -> KindSpec:
    try:
        return KINDS[DocumentKind(kind)]
    except (KeyError, ValueError):
        valid = "、".join(f"{k.value}（{k.label}）" for k in KINDS)
        raise ValidationError(f"未知的文书类型“{kind}”，可选：{valid}") from None

"""One case as its page shows it, shared by every session until the data changes
(`ui.shared`): the detail, its uploads, the meetings to link, the tables of its tickets and
its timeline (built once, not on every view), and the papers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlmodel import Session

from duban import cases, documents, meetings
from duban.cases import CaseDetail
from duban.documents import DocumentRow, case_documents
from duban.permissions import Actor, Perm
from duban.uploads import Upload
from ui.common import engine
from ui.shared import Stamp, shared_data


@dataclass(frozen=True)
class CaseView:
    detail: CaseDetail
    uploads: dict[int, Upload]  # the scanned replies of the feedback, by id
    meetings: list[meetings.MeetingRow]  # to link a 专题会 (staff who edit cases only)
    tickets: pd.DataFrame  # the linked tickets as the page's table shows them
    timeline: pd.DataFrame  # 办理记录, oldest first


@shared_data
def case_view(stamp: Stamp, who: Actor, case_id: int) -> CaseView:
    """Everything the page reads about one case; a refusal (another unit's case) is raised
    again on every view, never kept."""
    with Session(engine()) as session:
        detail = cases.case_detail(session, who, case_id)
        return CaseView(
            detail=detail,
            uploads=cases.feedback_uploads(session, who, case_id),
            meetings=meetings.list_meetings(session, who) if who.can(Perm.EDIT_CASES) else [],
            tickets=tickets_frame(detail),
            timeline=timeline_frame(cases.case_timeline(session, who, case_id)),
        )


def tickets_frame(detail: CaseDetail) -> pd.DataFrame:
    tickets = detail.tickets
    return pd.DataFrame(
        {
            "工单编号": [t.ticket_no for t in tickets],
            "诉求时间": [t.received_at.strftime("%Y-%m-%d %H:%M") for t in tickets],
            "诉求地址": [t.address for t in tickets],
            "内容描述": [t.content for t in tickets],
            "分类": [t.category for t in tickets],
        }
    )


def timeline_frame(timeline: list[cases.TimelineEntry]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "时间": [e.at.strftime("%Y-%m-%d %H:%M") for e in timeline],
            "操作人": [e.who for e in timeline],
            "操作": [e.what for e in timeline],
            "内容": [e.detail for e in timeline],
        }
    )


@shared_data
def case_papers(stamp: Stamp, who: Actor, case_id: int) -> list[DocumentRow]:
    """The case's papers as the documents panel lists them for this user."""
    with Session(engine()) as session:
        return case_documents(session, who, case_id)


@shared_data
def paper_steps(stamp: Stamp, who: Actor, kind: str, case_id: int) -> list[tuple[int, str, date]]:
    """The steps a paper of `kind` can belong to: (id, step kind label, issued date)."""
    with Session(engine()) as session:
        return documents.paper_steps(session, who, kind, case_id)

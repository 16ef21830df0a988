"""One case as its page shows it, shared by every session until the data changes
(`ui.shared`): the detail, its uploads, the meetings to link, the timeline and the papers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from duban import cases, meetings
from duban.cases import CaseDetail
from duban.documents import DocumentRow, applicable_steps, case_documents, load_case
from duban.models import Document, Upload
from duban.permissions import Actor, Perm
from ui.common import engine
from ui.shared import Stamp, shared_data


@dataclass(frozen=True)
class CaseView:
    detail: CaseDetail
    uploads: dict[int, Upload]  # the scanned replies of the feedback, by id
    meetings: list[meetings.MeetingRow]  # to link a 专题会 (staff who edit cases only)
    timeline: list[cases.TimelineEntry]
    documents: dict[int, Document]  # the case's papers, for the timeline's links


@shared_data
def case_view(stamp: Stamp, who: Actor, case_id: int) -> CaseView:
    """Everything the page reads about one case; a refusal (another unit's case) is raised
    again on every view, never kept."""
    with Session(engine()) as session:
        detail = cases.case_detail(session, who, case_id)
        ids = [fb.upload_id for v in detail.steps for fb in v.feedback if fb.upload_id]
        uploads = (
            {u.id: u for u in session.exec(select(Upload).where(Upload.id.in_(ids)))}  # type: ignore[union-attr,misc]
            if ids
            else {}
        )
        return CaseView(
            detail=detail,
            uploads=uploads,  # type: ignore[arg-type]
            meetings=meetings.list_meetings(session) if who.can(Perm.EDIT_CASES) else [],
            timeline=cases.case_timeline(session, who, case_id),
            documents={
                d.id: d  # type: ignore[misc]
                for d in session.exec(select(Document).where(Document.case_id == case_id))
            },
        )


@shared_data
def case_papers(stamp: Stamp, who: Actor, case_id: int) -> list[DocumentRow]:
    """The case's papers as the documents panel lists them for this user."""
    with Session(engine()) as session:
        return case_documents(session, who, case_id)


@shared_data
def paper_steps(stamp: Stamp, kind: str, case_id: int) -> list[tuple[int, str, object]]:
    """The steps a paper of `kind` can belong to: (id, step kind label, issued date)."""
    with Session(engine()) as session:
        steps = applicable_steps(kind, load_case(session, case_id))
    return [(s.id, s.kind.label, s.issued_at) for s in steps]

"""督办线索 page: the line saying what the last analysis added to the same-matter index.

(The page's groups, 立案 and thresholds are tested in tests/test_boards_page.py.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from duban.clock import today
from duban.enums import Role
from duban.permissions import Actor
from duban.text import normalize_address
from tests.factories import make_ticket
from tests.helpers import open_page

ADMIN = Actor(None, "admin", Role.ADMIN)
CLERK = Actor(None, "clerk", Role.CENTER)
ELEVATOR = "物业不维修电梯，电梯经常故障停运"


def complaint(s: Session, no: str, days_ago: int, text: str = ELEVATOR) -> None:
    place = "示例镇和睦家园12号楼"
    make_ticket(
        s,
        ticket_no=no,
        received_at=datetime.combine(today(), datetime.min.time()) - timedelta(days=days_ago),
        address=place,
        address_norm=normalize_address(place),
        content=text,
        platform_status="处理中",
    )


@pytest.fixture
def cluster(engine):
    with Session(engine) as s:
        for k in (1, 2, 3):
            complaint(s, f"R{k}", 20 - 5 * k, ELEVATOR + "，又坏了" * k)
        s.commit()


def index_lines(at) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("同一事项索引：")]


def test_the_page_says_what_the_last_analysis_added_to_the_index(engine, cluster):
    (line,) = index_lines(open_page(CLERK, "pages/candidates.py"))
    assert "全部重新建立" in line  # the first analysis builds it
    with Session(engine) as s:
        complaint(s, "R4", 1)
        s.commit()
    at = open_page(CLERK, "pages/candidates.py")
    (line,) = index_lines(at)
    assert "新增或变更工单 1 件" in line
    assert at.tabs[0].label == "重复投诉（1）"


def test_an_admin_may_rebuild_the_index(cluster):
    at = open_page(ADMIN, "pages/candidates.py")
    assert "全部重新建立" in index_lines(at)[0]
    at = open_page(ADMIN, "pages/candidates.py")  # cached: the same analysis
    at.button(key="candidates_rebuild").click().run()
    assert not at.exception
    assert at.success[0].value == "已重新建立同一事项索引"
    assert "全部重新建立" in index_lines(at)[0]
    assert not [b for b in open_page(CLERK, "pages/candidates.py").button
                if b.key == "candidates_rebuild"]  # fmt: skip

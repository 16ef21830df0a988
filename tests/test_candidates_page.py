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


def test_each_group_shows_its_address_key_and_shared_key_words(cluster):
    at = open_page(CLERK, "pages/candidates.py")
    captions = [c.value for c in at.caption if c.value.startswith("地址键：")]
    (caption,) = captions
    assert caption.startswith("地址键：示例镇和睦家园12幢 · 共同关键词：")
    assert {"电梯", "故障", "停运"} <= set(caption.split("：")[-1].split("、"))


def test_the_center_edits_the_standard_address_table(engine, cluster):
    """标准地址与别名: typed as the platform writes them, kept as address keys; the next
    analysis reads the alias."""
    with Session(engine) as s:
        complaint(s, "R9", 2)
        s.commit()
    at = open_page(CLERK, "pages/candidates.py")
    at.text_input(key="candidates_std_name").input("赵巷镇 和睦家园十二号楼")
    at.text_area(key="candidates_std_aliases").input("示例镇和睦家园12号楼\n")
    at.text_input(key="candidates_std_note").input("物业：和睦物业")
    at.button(key="candidates_std_save").click().run()
    assert not at.exception
    assert at.success[0].value == "已保存标准地址"
    table = next(d for d in at.dataframe if "标准地址" in d.value.columns)
    assert table.value.to_dict("records") == [
        {"标准地址": "和睦家园12幢", "别名": "示例镇和睦家园12幢", "备注": "物业：和睦物业"}
    ]
    captions = [c.value for c in at.caption if c.value.startswith("地址键：")]
    assert captions and captions[0].startswith("地址键：和睦家园12幢")

"""督办线索: staff confirm or split a group in the browser, and the next run reads the
address aliases (标准地址) they recorded.

Issue 21: "when staff confirm or split a group, the spellings they merge become aliases of
one standard address …, used by every later run". Two groups are planted beside the demo
data: at 测试花园8号楼, written also as 赵巷测试花园8号楼 (a spelling no rule unifies), and at
测试路18弄, where a near-identical complaint from 测试路18弄3号楼 is drawn in.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from duban.clock import now
from duban.db import make_engine
from duban.models import AddressAlias, StandardAddress, Ticket, Unit
from duban.standard_address import address_columns, address_prefixes
from tests.e2e.conftest import open_app, settle

pytestmark = pytest.mark.e2e
WAIT = 30_000  # ms: the machine is shared, a script run may take seconds

GARBAGE = "小区垃圾堆放多日无人清理，臭味很大"
LAMPS = "弄堂里路灯坏了好几盏，晚上很黑"


def plant(server) -> None:
    """Tickets received in the last days, each written as the platform writes them."""
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    day = now().replace(minute=0, second=0, microsecond=0) - timedelta(days=6)
    rows = [
        # 测试花园: one caller three times (two spellings), and the same caller again at the
        # other spelling in other words and another category: joined only through an alias
        ("E21-G1", "测试花园8号楼北门", GARBAGE, "市容环境", "13800021001"),
        ("E21-G2", "赵巷测试花园8号楼", GARBAGE + "！", "市容环境", "13800021002"),
        ("E21-G3", "赵巷镇测试花园8幢", "垃圾还是没人来收", "市容环境", "13800021001"),
        ("E21-G4", "赵巷测试花园8号楼", "楼下绿化带被人毁了种菜", "绿化管理", "13800021001"),
        # 测试路18弄: one caller three times, and one near-identical complaint next door
        ("E21-L1", "测试路18弄", LAMPS, "市政设施", "13800021003"),
        ("E21-L2", "测试路十八弄", "路灯还是不亮", "市政设施", "13800021003"),
        ("E21-L3", "测试路18弄南门", "路灯一直没人修", "市政设施", "13800021003"),
        ("E21-L4", "测试路18弄3号楼", LAMPS + "。", "市政设施", "13800021004"),
    ]
    with Session(engine) as s:
        prefixes = address_prefixes(s)
        unit = s.exec(select(Unit.id).order_by(Unit.id)).first()  # a 立案 needs a unit
        for i, (no, address, content, category, phone) in enumerate(rows):
            s.add(Ticket(ticket_no=no, received_at=day + timedelta(hours=i), address=address,
                         address_norm=address, **address_columns(address, prefixes),
                         content=content, category=category, caller="测试", phone=phone,
                         platform_status="处理中", unit_id=unit))  # fmt: skip
        s.commit()
    engine.dispose()


def find(page, words: str):
    """The 重复投诉 tab filtered to one place, showing its one group."""
    settle(page, lambda: page.get_by_role("tab", name=re.compile("^重复投诉")).click())
    box = page.get_by_role("textbox", name="按地址、内容或工单编号查找")
    settle(page, lambda: (box.fill(words), box.press("Enter")), start_within=5)
    expect(page.get_by_role("button", name="确认同一地点")).to_have_count(1, timeout=WAIT)
    return page.get_by_test_id("stTabPanel").filter(
        has=page.get_by_role("button", name="确认同一地点")
    )


def aliases(server) -> dict[str, str]:
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as s:
        rows = s.exec(
            select(AddressAlias.alias, StandardAddress.name).join(
                StandardAddress, StandardAddress.id == AddressAlias.standard_id
            )
        ).all()
    engine.dispose()
    return dict(rows)


def standards(server) -> set[str]:
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as s:
        names = set(s.exec(select(StandardAddress.name)).all())
    engine.dispose()
    return names


def test_confirming_a_group_records_aliases_the_next_run_uses(page, server):
    plant(server)
    open_app(page, server, "candidates")
    group = find(page, "测试花园")
    expect(group).to_contain_text("3 张工单", timeout=WAIT)
    expect(group).to_contain_text("地址键：测试花园8幢", timeout=WAIT)
    expect(group).to_contain_text("共同关键词：", timeout=WAIT)
    expect(group).to_contain_text("垃圾", timeout=WAIT)

    settle(page, lambda: group.get_by_role("button", name="确认同一地点").click(), start_within=5)
    expect(page.get_by_text("已确认：本组地址登记为标准地址“测试花园8幢”")).to_be_visible(
        timeout=WAIT
    )
    assert aliases(server)["赵巷测试花园8幢"] == "测试花园8幢"

    # the next run, after a reload (F5: the login lasts), reads the alias: the same
    # caller's complaint at the other spelling joins
    settle(page, lambda: page.reload())
    expect(page.get_by_role("tab", name=re.compile("^重复投诉"))).to_be_visible(timeout=WAIT)
    group = find(page, "测试花园")
    expect(group).to_contain_text("4 张工单", timeout=WAIT)
    expect(group).to_contain_text("地址写法 2 种，已按标准地址归并", timeout=WAIT)


def test_splitting_a_group_keeps_the_two_places_apart_in_the_next_run(page, server):
    open_app(page, server, "candidates")
    group = find(page, "测试路18弄")
    expect(group).to_contain_text("4 张工单", timeout=WAIT)

    settle(page, lambda: group.get_by_role("button", name="拆分…").click())
    picker = page.get_by_role("combobox", name="拆出不属于本组的工单")
    settle(page, lambda: picker.click())
    settle(page, lambda: page.get_by_role("option", name="E21-L4").click())
    settle(
        page, lambda: page.get_by_role("button", name="拆分", exact=True).click(), start_within=5
    )
    expect(page.get_by_text("已拆分：留下的登记为标准地址“测试路18弄”")).to_be_visible(timeout=WAIT)
    assert {"测试路18弄", "测试路18弄3幢"} <= standards(server)  # two places from now on

    group = find(page, "测试路18弄")
    expect(group).to_contain_text("3 张工单", timeout=WAIT)
    expect(group).not_to_contain_text("E21-L4", timeout=WAIT)

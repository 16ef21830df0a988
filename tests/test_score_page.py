"""热线考核 through AppTest: both rankings with every indicator and the change against the
previous month, the lost-point tickets of a unit, and the center's deductions and weights;
a unit user sees its group and its own tickets only."""

# ruff: noqa: F811 - `town` is the fixture of tests/test_score.py, used by name

from __future__ import annotations

from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from duban.enums import Role
from duban.models import ScoreDeduction, Unit
from duban.permissions import Actor
from tests.helpers import open_page
from tests.test_score import CENTER, EXPECTED, LEADER, town  # noqa: F401 - the fixture

MARCH = {"score_kind": "月度", "score_year": 2024, "score_month": 3}


def open_score(actor: Actor, **state) -> AppTest:
    return open_page(actor, "pages/score.py", state={**MARCH, **state})


def table(at: AppTest, first_unit: str):
    return next(d.value for d in at.dataframe if "承办单位" in d.value.columns and d.value["承办单位"].iloc[0] == first_unit)  # fmt: skip


def test_both_groups_are_ranked_with_every_indicator_and_the_change(town) -> None:
    at = open_score(LEADER)
    villages, departments = table(at, "和睦村"), table(at, "规划办")
    want = {row[0]: row for row in EXPECTED}
    shown = ["受理量", "受理量得分", "先行联系率", "先行联系得分", "办结量", "逾期工单量", "按时办结率",
             "减分", "实际解决数", "解释说明数", "诉求解决得分", "市民满意率", "市民满意得分", "总得分",
             "排名"]  # fmt: skip
    for frame in (villages, departments):
        for _, r in frame.iterrows():
            assert [str(r[h]) for h in shown] == want[r["承办单位"]][2:]
    assert villages.set_index("承办单位").loc["和睦村", "较上期"] == "+59.50"
    assert villages.set_index("承办单位").loc["和睦村", "名次变化"] == "持平"
    assert departments.set_index("承办单位").loc["规划办", "较上期"] == "—"
    assert [s.value for s in at.subheader][:2] == ["村居排名", "部门排名"]
    assert not at.get("form")  # a leader reads, does not deduct


def test_a_units_lost_tickets_are_one_click_away(town) -> None:
    at = open_score(LEADER, score_unit=town["和睦村"].id, score_indicator="satisfaction")
    lost = next(d.value for d in at.dataframe if "失分原因" in d.value.columns)
    assert list(lost["工单编号"]) == ["A2", "A3"]
    assert list(lost["失分原因"]) == ["回访基本满意", "回访不满意"]
    assert list(lost["失分"]) == ["2.67", "13.33"]
    assert any("市民满意失分 16.00 分" in m.value for m in at.markdown)


def test_a_unit_user_sees_its_group_and_its_own_tickets_only(town) -> None:
    me = Actor(None, "hm", Role.UNIT, unit_id=town["和睦村"].id)
    at = open_score(me, score_indicator="overdue")
    frames = [d.value for d in at.dataframe]
    names = {n for f in frames if "承办单位" in f.columns for n in f["承办单位"]}
    assert names == {"和睦村", "新城居委会", "东村"}
    assert [s.key for s in at.selectbox if s.key == "score_unit"] == []  # its own unit only
    lost = next(f for f in frames if "失分原因" in f.columns)
    assert list(lost["工单编号"]) == ["A2", "A3", "A4"]
    assert "本单位：和睦村（村居组），总得分 64.50，第 1 名" in at.info[0].value


def test_the_center_records_a_deduction_and_a_bad_one_changes_nothing(engine, town) -> None:
    at = open_score(CENTER)
    form_inputs = [t for t in at.text_input if t.label in ("扣分", "扣分事由")]
    form_inputs[0].set_value("两分")
    form_inputs[1].set_value("未按时报送")
    at.button(key="FormSubmitter:score_deduction_form-登记扣分").click().run()
    assert [e.value for e in at.error] == ["扣分：必须是数字（两分）"]
    with Session(engine) as session:
        assert len(session.exec(select(ScoreDeduction)).all()) == 3
    unit_box = next(s for s in at.selectbox if s.label == "扣分单位")
    unit_box.set_value(town["规划办"].id)
    next(t for t in at.text_input if t.label == "扣分").set_value("2")
    next(t for t in at.text_input if t.label == "扣分事由").set_value("未按时报送")
    at.button(key="FormSubmitter:score_deduction_form-登记扣分").click().run()
    assert not at.exception and not at.error
    with Session(engine) as session:
        added = session.exec(
            select(ScoreDeduction).where(ScoreDeduction.reason == "未按时报送")
        ).one()
        assert session.get(Unit, added.unit_id).name == "规划办" and added.points == 2


def test_the_center_changes_a_weight_and_the_history_shows_it(town) -> None:
    at = open_score(CENTER)
    next(t for t in at.text_input if t.label == "解释说明折算系数 w").set_value("0.5")
    at.button(key="FormSubmitter:score_rules_form-保存考核规则").click().run()
    assert not at.error
    departments = table(at, "规划办")
    assert departments.set_index("承办单位").loc["市场所", "总得分"] == "9.83"
    history = next(d.value for d in at.dataframe if "修改人" in d.value.columns)
    assert list(history.iloc[0][["修改人", "规则", "原值", "新值"]]) == ["center", "解释说明折算系数 w", "1", "0.5"]  # fmt: skip

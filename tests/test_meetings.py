"""镇领导专题会 and routing rules (§三(三)2: 明确同类事项的处置部门和处置路径)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from duban import cases, meetings, routing
from duban.enums import Level, Role, Scope, StepKind
from duban.errors import ConflictError, PermissionDenied, ValidationError
from duban.models import MeetingCase, Step
from duban.permissions import Actor
from tests.factories import make_unit

CLERK = Actor(user_id=None, username="clerk", role=Role.CENTER)


@pytest.fixture
def units(session):
    env = make_unit(session, "镇生态环境办")
    city = make_unit(session, "镇城管中队")
    session.commit()
    return env, city


def open_case(session, unit, level=Level.ESCALATED):
    return cases.open_case(
        session,
        CLERK,
        scope=Scope.CROSS_FUNCTION,
        lead_unit_id=unit.id,
        title="职能交叉事项",
        source_note="城运中心梳理",
        related_info="职能交叉，推诿扯皮",
        opinion="提请专题会明确处置部门",
        start_level=level,
        start_level_reason="职能交叉" if level != Level.WRITTEN else "",
        opened_at=date(2024, 5, 6),
    )


def test_a_meeting_records_the_cases_discussed_and_adds_the_step(session, units):
    """镇领导专题会: the chair, attendees, the cases discussed; an escalated case gets the step."""
    escalated = open_case(session, units[0])
    written = open_case(session, units[1], Level.WRITTEN)
    meeting = meetings.create_meeting(
        session,
        CLERK,
        held_at=date(2024, 5, 10),
        title="热线工作专题会",
        chair="镇分管领导",
        attendees="城运中心、生态环境办、城管中队",
        summary="明确职能交叉事项的处置部门",
        case_ids=[escalated.id, written.id],
    )
    session.commit()
    assert [c.id for c in meetings.meeting_cases(session, meeting.id)] == [escalated.id, written.id]
    steps = session.exec(select(Step).where(Step.kind == StepKind.SPECIAL_MEETING)).all()
    assert [(s.case_id, s.meeting_id, s.issued_at) for s in steps] == [
        (escalated.id, meeting.id, date(2024, 5, 10))
    ]
    (row,) = meetings.list_meetings(session, CLERK)
    assert (row.cases, row.rules) == (2, 0)
    with pytest.raises(ValidationError, match="已在该专题会"):
        meetings.link_case(session, CLERK, meeting.id, written.id)


def test_a_decision_creates_a_routing_rule_linked_to_the_meeting(session, units):
    """明确同类事项的处置部门和处置路径: a rule with category/keywords/address → department, path."""
    env, _ = units
    meeting = meetings.create_meeting(
        session, CLERK, held_at=date(2024, 5, 10), title="专题会", chair="分管领导"
    )
    rule = meetings.add_routing_rule(
        session,
        CLERK,
        meeting.id,
        name="工地夜间施工噪声",
        category="噪声扰民",
        keywords="夜间施工，打桩 ",
        unit_id=env.id,
        handling_path="生态环境办牵头，城管配合",
    )
    session.commit()
    assert (rule.meeting_id, rule.keywords) == (meeting.id, "夜间施工、打桩")
    (listed,) = meetings.list_rules(session, CLERK, search="打桩")
    assert (listed.unit_name, listed.meeting_title) == ("镇生态环境办", "专题会")
    assert meetings.list_rules(session, CLERK, search="生态环境办")[0].rule.id == rule.id
    assert meetings.list_rules(session, CLERK, search="无关") == []


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"name": ""}, "事项类别名称"),
        ({"handling_path": ""}, "处置路径"),
        ({"category": "", "keywords": "", "address_pattern": ""}, "至少填写"),
        ({"unit_id": 999}, "处置部门"),
    ],
)
def test_an_incomplete_rule_is_refused(session, units, kw, message):
    values = {
        "name": "n",
        "category": "噪声扰民",
        "unit_id": units[0].id,
        "handling_path": "p",
    }
    values.update(kw)
    with pytest.raises(ValidationError, match=message):
        meetings.add_routing_rule(session, CLERK, None, **values)


def test_matching_rules_are_suggested_most_specific_first(session, units):
    """When a matter of the same class comes in, the rule's department and path are suggested."""
    env, city = units
    broad = meetings.add_routing_rule(
        session, CLERK, None, name="噪声", category="噪声扰民", unit_id=env.id, handling_path="a"
    )
    narrow = meetings.add_routing_rule(
        session,
        CLERK,
        None,
        name="示例路工地噪声",
        category="噪声扰民",
        keywords="工地",
        address_pattern="示例镇示例路*",
        unit_id=city.id,
        handling_path="b",
    )
    session.commit()

    def match(category, content, address):
        return routing.match_rules(session, category=category, content=content, address=address)

    assert match("噪声扰民", "工地夜间施工", "示例镇 示例路 8号") == [narrow, broad]
    assert match("噪声扰民", "广场舞", "示例镇示例路8号") == [broad]
    assert match("违章搭建", "工地", "示例镇示例路8号") == []
    meetings.set_rule_active(session, CLERK, broad.id, False, expected_version=broad.version)
    session.commit()
    assert match("噪声扰民", "广场舞", "示例镇示例路8号") == []
    with pytest.raises(ConflictError):
        meetings.set_rule_active(session, CLERK, broad.id, True, expected_version=1)


def test_only_the_center_records_meetings_and_rules(session, units):
    leader = Actor(None, "leader", Role.LEADER)
    with pytest.raises(PermissionDenied):
        meetings.create_meeting(session, leader, held_at=date(2024, 5, 1), title="t", chair="c")
    with pytest.raises(PermissionDenied):
        meetings.add_routing_rule(
            session, leader, None, name="n", category="c", unit_id=units[0].id, handling_path="p"
        )
    assert session.exec(select(MeetingCase)).all() == []

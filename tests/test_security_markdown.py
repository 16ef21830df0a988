"""User text reaches Markdown escaped (issue #15): links, images and directives in a query
parameter, an uploaded file's name or an error message show as typed."""

from __future__ import annotations

from duban.enums import Role
from duban.permissions import Actor
from tests.helpers import open_page
from ui.common import literal

ADMIN = Actor(None, "admin", Role.ADMIN)
LINK = "[点我领奖](http://evil.example/) ![x](http://evil.example/x.png) :red[假通知]"


def test_a_crafted_case_parameter_is_shown_as_typed(engine):
    at = open_page(ADMIN, "pages/cases.py", case=LINK)
    assert [e.value for e in at.error] == [f"督办事项编号无效：{literal(LINK)}"]
    assert "](http" not in at.error[0].value.replace("\\]", "")
    assert ":\u200bred" in at.error[0].value


def test_literal_escapes_every_markdown_construct():
    shown = literal(LINK)
    for raw in ("[点我领奖]", "![x]", ":red["):
        assert raw not in shown

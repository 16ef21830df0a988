"""The app's page list by role: a page missing from a role's list cannot be reached by URL.

Defined here, once per process, rather than in app.py, which runs again on every view.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from duban.enums import Role

ROOT = Path(__file__).resolve().parent.parent  # the pages' paths are relative to it
ALL = frozenset(Role)
STAFF = frozenset({Role.ADMIN, Role.CENTER})
READERS = frozenset({Role.ADMIN, Role.CENTER, Role.LEADER})


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    roles: frozenset[Role]
    section: str


PAGES = [
    # a unit user's first page is its to-do list (待办); everyone else's is 首页
    PageSpec("pages/todo.py", "待办", ":material/checklist:", frozenset({Role.UNIT}), "日常"),
    PageSpec("pages/home.py", "首页", ":material/home:", ALL, "日常"),
    PageSpec("pages/ledger.py", "工单台账", ":material/table_view:", ALL, "日常"),
    PageSpec("pages/cases.py", "督办事项", ":material/assignment:", ALL, "日常"),
    PageSpec("pages/case_new.py", "新建督办", ":material/add_circle:", STAFF, "日常"),
    PageSpec("pages/chasing.py", "催办", ":material/notifications_active:", STAFF, "日常"),
    PageSpec("pages/boards.py", "看板", ":material/dashboard:", ALL, "分析"),
    PageSpec("pages/candidates.py", "督办线索", ":material/manage_search:", STAFF, "分析"),
    PageSpec("pages/meetings.py", "专题会与处置规则", ":material/groups:", READERS, "分析"),
    PageSpec("pages/reports.py", "报表", ":material/bar_chart:", READERS, "分析"),
    PageSpec("pages/score.py", "热线考核", ":material/leaderboard:", ALL, "分析"),
    PageSpec("pages/cockpit.py", "领导驾驶舱", ":material/monitor:", READERS, "分析"),
    PageSpec("pages/documents.py", "文书", ":material/description:", STAFF, "文书"),
    PageSpec(
        "pages/templates.py",
        "文书模板",
        ":material/edit_document:",
        frozenset({Role.ADMIN}),
        "文书",
    ),
    PageSpec(
        "pages/users.py", "用户管理", ":material/manage_accounts:", frozenset({Role.ADMIN}), "管理"
    ),
    PageSpec("pages/audit_log.py", "操作日志", ":material/history:", STAFF, "管理"),
    PageSpec(
        "pages/settings.py", "系统设置", ":material/settings:", frozenset({Role.ADMIN}), "管理"
    ),
    PageSpec("pages/account.py", "我的账户", ":material/person:", ALL, "账户"),
]


def navigation(role: Role | None) -> dict[str, list]:
    """The role's pages by section, for `st.navigation`; the first (待办 for a unit user,
    首页 for the others) is the default. st.Page objects are made per run: `st.navigation` marks the one it runs,
    so they are not shared between sessions."""
    sections: dict[str, list] = {}
    for spec in PAGES:
        if role is None or role in spec.roles:  # None: every page (the login gate's list)
            page = st.Page(ROOT / spec.path, title=spec.title, icon=spec.icon)
            sections.setdefault(spec.section, []).append(page)
    return sections

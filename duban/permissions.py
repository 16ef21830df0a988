"""Who may do what: the role table, checked inside the service functions.

Pages hide what a user may not do, but the check that counts is here: a service called
for another unit's case refuses even if a page forgot to hide the button.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from duban.enums import Role
from duban.errors import PermissionDenied


class Perm(StrEnum):
    VIEW_ALL = "view_all"  # see every unit's tickets and cases
    EDIT_TICKETS = "edit_tickets"
    IMPORT_TICKETS = "import_tickets"
    EDIT_CASES = "edit_cases"  # open cases, issue steps, escalate, close
    REGISTER_FEEDBACK = "register_feedback"
    RENDER_DOCUMENTS = "render_documents"
    INSTRUCT = "instruct"  # record a leader's 批示
    SEE_CONTACTS = "see_contacts"  # callers' names and phone numbers unmasked
    MANAGE_TEMPLATES = "manage_templates"
    MANAGE_SETTINGS = "manage_settings"  # calendar, thresholds, scoring rules
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT = "view_audit"
    BACKUP = "backup"
    MANAGE_SCORE = "manage_score"  # 热线考核: scoring rules and manual deductions


ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    Role.CENTER: frozenset(
        {
            Perm.VIEW_ALL,
            Perm.EDIT_TICKETS,
            Perm.IMPORT_TICKETS,
            Perm.EDIT_CASES,
            Perm.REGISTER_FEEDBACK,
            Perm.RENDER_DOCUMENTS,
            Perm.SEE_CONTACTS,
            Perm.VIEW_AUDIT,
            Perm.MANAGE_SCORE,
        }
    ),
    Role.UNIT: frozenset({Perm.REGISTER_FEEDBACK}),
    Role.LEADER: frozenset({Perm.VIEW_ALL, Perm.INSTRUCT}),
}


@dataclass(frozen=True)
class Actor:
    """The person a service acts for (a logged-in user, or the system for CLI/demo work)."""

    user_id: int | None
    username: str
    role: Role
    unit_id: int | None = None
    can_see_contacts: bool = False  # a leader granted contact data
    display_name: str = ""  # 姓名; screens show people by name, not by login

    @property
    def name(self) -> str:
        """How screens and papers name this person: 姓名, or the login when none is set."""
        return self.display_name or self.username

    def can(self, perm: Perm) -> bool:
        if perm is Perm.SEE_CONTACTS and self.can_see_contacts:
            return True
        return perm in ROLE_PERMS[self.role]

    def require(self, perm: Perm, what: str = "") -> None:
        """Refuse with a Chinese message unless the role grants `perm`."""
        if not self.can(perm):
            action = what or PERM_LABELS[perm]
            raise PermissionDenied(f"当前账号（{self.username}，{self.role.label}）无权{action}")

    def require_unit(self, unit_ids: set[int | None], what: str = "查看该事项") -> None:
        """A unit user may act only on records of their own unit."""
        if self.can(Perm.VIEW_ALL):
            return
        if self.unit_id is None or self.unit_id not in unit_ids:
            raise PermissionDenied(f"当前账号（{self.username}）只能处理本单位的事项，无权{what}")


PERM_LABELS: dict[Perm, str] = {
    Perm.VIEW_ALL: "查看全部单位的数据",
    Perm.EDIT_TICKETS: "修改工单",
    Perm.IMPORT_TICKETS: "导入工单",
    Perm.EDIT_CASES: "办理督办事项",
    Perm.REGISTER_FEEDBACK: "登记书面反馈",
    Perm.RENDER_DOCUMENTS: "生成文书",
    Perm.INSTRUCT: "录入领导批示",
    Perm.SEE_CONTACTS: "查看诉求人联系方式",
    Perm.MANAGE_TEMPLATES: "管理文书模板",
    Perm.MANAGE_SETTINGS: "修改系统设置",
    Perm.MANAGE_USERS: "管理用户",
    Perm.VIEW_AUDIT: "查看操作日志",
    Perm.BACKUP: "备份数据",
    Perm.MANAGE_SCORE: "修改热线考核规则或扣分",
}

SYSTEM = Actor(user_id=None, username="system", role=Role.ADMIN)
"""The actor of the CLI and the demo generator (the machine's operator is trusted)."""

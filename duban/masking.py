"""One masking function for every output a role without contact rights receives (issue #15).

Citizens' names, phone numbers and ID numbers reach unit and leader users masked, whatever
the path: ledger rows, ticket detail, history, case detail, exports, candidate lists. The
services call `mask_ticket` (a ticket as a dict), `mask_ticket_copy` (a detached Ticket) or
`mask_entry` (an audit row) with the actor; the decision is `sees_contacts(actor)`.

- 诉求人 / 联系电话: `张**`, `138****5678`;
- phone and ID numbers inside free text (内容描述, 标题, 诉求地址, 备注): `138****5678`,
  `310***********1234`;
- the export's columns the importer did not recognise (`raw`): every value masked, except
  in the columns an admin marks safe (setting `raw_columns_safe`), because a header such as
  联系方式, 姓名, 反映人 or 身份证号 cannot be told from 催办次数 by a pattern.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from duban.models import AuditLog, Ticket
from duban.permissions import Actor, Perm
from duban.settings import get_setting

CONTACT_FIELDS = ("caller", "phone")
TEXT_FIELDS = ("title", "content", "address", "notes")
# mobile numbers (+86 optional, separators allowed), landlines with area code, ID numbers
_SENSITIVE_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"\d{17}[\dXx]|\d{15}"  # 居民身份证号 (18 or old 15 digits)
    r"|(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}"  # 手机
    r"|0\d{2,3}[- ]?\d{7,8}"  # 固定电话 with area code
    r"|\d{7,8}"  # local landline
    r")(?![0-9A-Za-z])"
)
_SPLIT = re.compile(r"[、，,;；\s]+")


def sees_contacts(actor: Actor) -> bool:
    """Whether `actor` reads contact data unmasked (center, admin, a leader granted it)."""
    return actor.can(Perm.SEE_CONTACTS)


def mask_phone(phone: str) -> str:
    """`13812345678` → `138****5678`; short numbers keep only their last two digits."""
    phone = phone or ""
    if len(phone) >= 7:
        return phone[:3] + "****" + phone[-4:]
    return "*" * max(len(phone) - 2, 0) + phone[-2:] if phone else ""


def mask_name(name: str) -> str:
    """`张先生` → `张**`: the surname stays, so staff can still tell callers apart."""
    name = name or ""
    return name[:1] + "*" * (len(name) - 1) if name else ""


def _mask_number(match: re.Match[str]) -> str:
    digits = match.group(0)
    keep = 4 if len(digits) >= 11 else 2
    return digits[:3] + "*" * (len(digits) - 3 - keep) + digits[-keep:]


def mask_text(text: str | None) -> str | None:
    """Free text with every phone and ID number in it masked (the words stay)."""
    if not text:
        return text
    return _SENSITIVE_NUMBER.sub(_mask_number, text)


def mask_value(value: Any) -> Any:
    """A raw column's value when the column is not marked safe: a number masked like a
    phone number (`139****1111`), any other text down to its first character (`李**`)."""
    if value is None or value == "":
        return value
    text = str(value)
    numbers = mask_text(text)
    if numbers != text:
        return numbers
    return text[:1] + "*" * (len(text) - 1)


def safe_columns(session: Session) -> frozenset[str]:
    """The raw columns an admin has marked safe to show unmasked (setting `raw_columns_safe`)."""
    names = str(get_setting(session, "raw_columns_safe") or "")
    return frozenset(n for n in _SPLIT.split(names) if n)


def mask_raw(raw: Mapping[str, Any] | None, safe: frozenset[str]) -> dict[str, Any]:
    return {k: (mask_text(v) if isinstance(v, str) else v) if k in safe else mask_value(v)
            for k, v in (raw or {}).items()}  # fmt: skip


def mask_ticket(actor: Actor, row: dict[str, Any], safe: frozenset[str]) -> dict[str, Any]:
    """A ticket (as a dict of its fields) as `actor` may see it."""
    if sees_contacts(actor):
        return row
    row = dict(row)
    if "caller" in row:
        row["caller"] = mask_name(row["caller"])
    if "phone" in row:
        row["phone"] = mask_phone(row["phone"])
    for name in TEXT_FIELDS:
        if isinstance(row.get(name), str):
            row[name] = mask_text(row[name])
    if isinstance(row.get("raw"), dict):
        row["raw"] = mask_raw(row["raw"], safe)
    return row


def mask_ticket_copy(actor: Actor, ticket: Ticket, safe: frozenset[str]) -> Ticket:
    """A detached copy of a Ticket as `actor` may see it (the stored row is never touched)."""
    if sees_contacts(actor):
        return ticket
    return Ticket.model_validate(mask_ticket(actor, ticket.model_dump(), safe))


def mask_entry(actor: Actor, entry: AuditLog, safe: frozenset[str]) -> AuditLog:
    """An audit row of a ticket as `actor` may see it: contact fields, free text and raw."""
    if sees_contacts(actor):
        return entry
    copy = AuditLog.model_validate(entry.model_dump())
    copy.old, copy.new = (_mask_logged(entry.field, v, safe) for v in (entry.old, entry.new))
    copy.note = mask_text(entry.note) or ""
    return copy


def _mask_logged(field: str, value: str | None, safe: frozenset[str]) -> str | None:
    if not value:
        return value
    if field == "phone":
        return mask_phone(value)
    if field == "caller":
        return mask_name(value)
    if field == "raw":  # logged as the dict's repr (duban.audit.show)
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            parsed = None
        return str(mask_raw(parsed, safe)) if isinstance(parsed, dict) else mask_value(value)
    return mask_text(value)

"""Sending each unit its to-do list by e-mail (`duban.chasing.UnitList`), with the mail
server an admin sets (系统设置 → 签收与邮件) and the units' contact addresses.

Only `smtplib` from the standard library: no network at test time beyond a local SMTP
server the tests start (aiosmtpd). Failures are `MailError` with a Chinese message naming
the server or the recipient.
"""

from __future__ import annotations

import smtplib
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import parseaddr

from sqlmodel import Session, select

from duban import audit
from duban.chasing import UnitList, list_file_name, list_xlsx
from duban.clock import cn_date, now
from duban.enums import AuditAction
from duban.errors import DubanError, NotFound, ValidationError
from duban.models import Unit, UnitMailbox
from duban.permissions import Actor, Perm
from duban.settings import get_setting, save_settings

__all__ = [
    "SECURITY",
    "SmtpConfig",
    "MailResult",
    "MailError",
    "smtp_config",
    "save_smtp_settings",
    "send_test_mail",
    "send_unit_lists",
    "unit_addresses",
    "set_unit_addresses",
    "parse_addresses",
]

SECURITY = {"none": "不加密", "starttls": "STARTTLS", "ssl": "SSL/TLS"}


class MailError(DubanError):
    """The mail server could not be reached or refused; the message says which and why."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str
    sender: str

    @property
    def configured(self) -> bool:
        return bool(self.host and self.sender)


def smtp_config(session: Session) -> SmtpConfig:
    return SmtpConfig(
        host=str(get_setting(session, "smtp_host") or ""),
        port=int(get_setting(session, "smtp_port")),
        security=str(get_setting(session, "smtp_security") or "none"),
        sender=str(get_setting(session, "smtp_sender") or ""),
    )


def parse_addresses(text: str, label: str = "邮箱地址") -> list[str]:
    """Addresses separated by commas, semicolons, 、 or spaces; each must look like a@b.c."""
    parts = [p for p in _split_addresses(text) if p]
    for p in parts:
        _, addr = parseaddr(p)
        if addr != p or "@" not in p or "." not in p.split("@")[-1] or len(p) > 200:
            raise ValidationError(f"{label}格式不正确：“{p}”")
    return parts


def _split_addresses(text: str) -> list[str]:
    for sep in "，,;；、\n\t":
        text = (text or "").replace(sep, " ")
    return text.split()


def save_smtp_settings(
    session: Session, actor: Actor, *, host: str, port: int, security: str, sender: str
) -> list[str]:
    """Check and save the mail server settings (admins); returns the changed keys."""
    if security not in SECURITY:
        raise ValidationError(f"加密方式无效：{security}，可选：{'、'.join(SECURITY.values())}")
    host = (host or "").strip()
    if any(c.isspace() for c in host):
        raise ValidationError(f"邮件服务器地址不能包含空格：“{host}”")
    senders = parse_addresses(sender, "发件人地址") if (sender or "").strip() else []
    if len(senders) > 1:
        raise ValidationError("发件人地址只能填写一个")
    return save_settings(
        session,
        actor,
        {
            "smtp_host": host,
            "smtp_port": port,
            "smtp_security": security,
            "smtp_sender": senders[0] if senders else "",
        },
    )


def unit_addresses(session: Session) -> dict[int, list[str]]:
    """Unit id → its e-mail addresses for the to-do list."""
    return {
        m.unit_id: _split_addresses(m.addresses) for m in session.exec(select(UnitMailbox)).all()
    }


def set_unit_addresses(session: Session, actor: Actor, unit_id: int, text: str) -> list[str]:
    """Set a unit's addresses (admins), audited; returns them as saved."""
    actor.require(Perm.MANAGE_SETTINGS)
    unit = session.get(Unit, unit_id)
    if unit is None or unit.deleted_at is not None:
        raise NotFound(f"承办单位（编号 {unit_id}）不存在或已删除")
    addresses = parse_addresses(text, f"{unit.name}的邮箱地址")
    joined = ", ".join(addresses)
    if len(joined) > 500:
        raise ValidationError(f"{unit.name}的邮箱地址：合计最多 500 个字符")
    row = session.get(UnitMailbox, unit_id) or UnitMailbox(unit_id=unit_id)
    old = row.addresses
    if old == joined:
        return addresses
    row.addresses, row.updated_at, row.updated_by = joined, now(), actor.user_id
    session.add(row)
    audit.record(
        session, actor, AuditAction.UPDATE, "unit", unit_id, field="emails", old=old, new=joined
    )
    return addresses


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if not config.configured:
        raise MailError("尚未配置邮件服务器：请管理员在“系统设置 → 邮件发送”填写服务器地址和发件人")
    try:
        if config.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                config.host, config.port, timeout=15, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=15)
            if config.security == "starttls":
                client.starttls(context=ssl.create_default_context())
        return client
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"无法连接邮件服务器 {config.host}:{config.port}：{exc}") from exc


def _send(client: smtplib.SMTP, message: EmailMessage, config: SmtpConfig) -> None:
    try:
        client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"邮件服务器 {config.host} 拒绝发送给 {message['To']}：{exc}") from exc


def send_test_mail(session: Session, actor: Actor, to: str) -> None:
    """The settings page's test button: one short message to `to`."""
    actor.require(Perm.MANAGE_SETTINGS, "测试邮件发送")
    addresses = parse_addresses(to, "测试收件人")
    if not addresses:
        raise ValidationError("请填写测试收件人邮箱")
    config = smtp_config(session)
    message = EmailMessage()
    message["Subject"] = "督办台账邮件发送测试"
    message["From"], message["To"] = config.sender, ", ".join(addresses)
    message.set_content(
        f"这是一封测试邮件，发送于 {now():%Y-%m-%d %H:%M}。收到即说明邮件设置正确。"
    )
    client = _connect(config)
    try:
        _send(client, message, config)
    finally:
        client.quit()


@dataclass(frozen=True)
class MailResult:
    unit_name: str
    addresses: list[str]
    sent: bool
    message: str  # why not sent, in Chinese; "" when sent


def send_unit_lists(
    session: Session,
    actor: Actor,
    lists: list[UnitList],
    day: date,
    progress: Callable[[int, int], None] | None = None,
) -> list[MailResult]:
    """E-mail each unit its list (the xlsx attached) at its contact addresses.

    Units without addresses are reported, not failed; one connection for all. Audited.
    """
    actor.require(Perm.EDIT_CASES, "发送待办清单")
    config = smtp_config(session)
    addresses = unit_addresses(session)
    office = get_setting(session, "office_name")
    results: list[MailResult] = []
    client = _connect(config)
    try:
        for n, unit_list in enumerate(lists, 1):
            to = addresses.get(unit_list.unit_id, []) if unit_list.unit_id else []
            if not to:
                results.append(MailResult(unit_list.unit_name, [], False, "未设置邮箱地址"))
            else:
                message = EmailMessage()
                message["Subject"] = f"{unit_list.unit_name}督办待办清单（{cn_date(day)}）"
                message["From"], message["To"] = config.sender, ", ".join(to)
                message.set_content(
                    f"{unit_list.unit_name}：\n\n截至{cn_date(day)}，贵单位在办督办环节 "
                    f"{unit_list.open} 项，其中待签收 {unit_list.unsigned} 项、即将到期 "
                    f"{unit_list.due_soon} 项、已逾期 {unit_list.overdue} 项、已催办 "
                    f"{unit_list.chased} 项，明细见附件。\n\n{office}"
                )
                message.add_attachment(
                    list_xlsx(unit_list, day),
                    maintype="application",
                    subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    filename=list_file_name(unit_list, day),
                )
                try:
                    _send(client, message, config)
                    results.append(MailResult(unit_list.unit_name, to, True, ""))
                except MailError as exc:
                    results.append(MailResult(unit_list.unit_name, to, False, str(exc)))
            if progress is not None:
                progress(n, len(lists))
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            pass
    sent = Counter(r.sent for r in results)
    audit.record(
        session,
        actor,
        AuditAction.EXPORT,
        "unit",
        None,
        field="todo_mail",
        new=f"已发送 {sent[True]} 个单位",
        note=f"邮件发送待办清单（{cn_date(day)}）：成功 {sent[True]}，未发送 {sent[False]}",
    )
    return results

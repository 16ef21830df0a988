"""Command line: `python -m duban COMMAND …` (a stable contract, see README and DESIGN.md).

Each command is a small function that opens the database, calls the domain package and
prints; expected failures (`DubanError`) print one Chinese line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date

from sqlalchemy import Engine
from sqlmodel import col

from duban.errors import DubanError, ValidationError

Handler = Callable[[argparse.Namespace], int]


def parse_date(text: str) -> date:
    """A date argument in ISO form, with a Chinese error naming it."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationError(
            f"日期格式错误：“{text}”，请写成 YYYY-MM-DD，例如 2024-02-08"
        ) from exc


def open_db() -> Engine:
    from duban.db import open_database

    return open_database()


def cmd_init(args: argparse.Namespace) -> int:
    engine = open_db()
    print(f"数据库已就绪：{engine.url.render_as_string(hide_password=True)}")
    if args.demo:
        from duban.demo import generate_demo

        summary = generate_demo(engine)
        print("已生成演示数据：" + "，".join(f"{k} {v}" for k, v in summary.items()))
    return 0


def cmd_workdays_add(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from duban.workdays import Calendar

    start = parse_date(args.date)
    try:
        n = int(args.n)
    except ValueError as exc:
        raise ValidationError(f"工作日天数必须是整数：“{args.n}”") from exc
    with Session(open_db()) as session:
        due = Calendar.load(session).add(start, n)
    print(due.day.isoformat())
    if due.provisional:
        print(
            f"警告：{due.day.year} 年的节假日安排尚未录入，此日期仅按周末推算（暂估）；"
            "请管理员在“系统设置 → 工作日历”中录入该年安排。",
            file=sys.stderr,
        )
    return 0


def cmd_import_tickets(args: argparse.Namespace) -> int:
    """Exit 0: every row taken; 3: some rows rejected (listed), the rest imported;
    2: the file refused as a whole, nothing written (raised as DubanError)."""
    from pathlib import Path

    from sqlmodel import Session

    from duban.importer import import_tickets
    from duban.permissions import SYSTEM

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"无法读取文件 {path}：{exc.strerror}") from exc
    with Session(open_db()) as session:
        report = import_tickets(
            session, SYSTEM, data, path.name, dry_run=args.dry_run, create_units=args.create_units
        )
        if not args.dry_run:
            session.commit()
    for reject in report.rejects:
        print(f"未导入：{reject.line()}", file=sys.stderr)
    if report.unknown_units:
        print("未匹配的承办单位（已导入，单位待指定）：" + "、".join(report.unknown_units))
    if report.created_units:
        verb = "将新建" if args.dry_run else "已新建"
        print(f"{verb}承办单位：" + "、".join(report.created_units))
    if report.unknown_headers:
        print("未识别的列（已原样保存）：" + "、".join(report.unknown_headers))
    for hint in report.route_suggestions:
        print(
            f"专题会处置规则“{hint.rule_name}”适用于新工单：{'、'.join(hint.ticket_nos)}"
            f"（处置部门：{hint.unit_name}，处置路径：{hint.handling_path}）"
        )
    if args.dry_run:
        print("试运行：未写入数据库")
    print(report.summary_line())
    return 3 if report.rejected else 0


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sqlmodel import Session

    from duban.exporter import cases_xlsx, tickets_xlsx
    from duban.permissions import SYSTEM

    with Session(open_db()) as session:
        data = (
            tickets_xlsx(session, SYSTEM) if args.what == "tickets" else cases_xlsx(session, SYSTEM)
        )
        out = Path(args.out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
        except OSError as exc:
            raise ValidationError(f"无法写入 {out}：{exc.strerror}") from exc
        session.commit()
    print(f"已导出：{out}")
    return 0


def read_password(from_stdin: bool) -> str:
    """A new password: the first line of stdin (`--password-stdin`), else typed twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("密码：")
    if getpass.getpass("再次输入密码：") != first:
        raise ValidationError("两次输入的密码不一致")
    return first


def find_unit_id(session, name: str) -> int:  # noqa: ANN001 - a sqlmodel Session
    """A unit by its full name or one of its aliases."""
    from sqlmodel import select

    from duban.models import Unit

    wanted = name.strip()
    for unit in session.exec(select(Unit).where(col(Unit.deleted_at).is_(None))):
        if wanted == unit.name or wanted in (unit.aliases or []):
            return unit.id
    raise ValidationError(f"承办单位“{wanted}”不存在，请使用单位全称")


def cmd_user_add(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from duban.auth import create_user
    from duban.enums import Role
    from duban.permissions import SYSTEM

    with Session(open_db()) as session:
        unit_id = find_unit_id(session, args.unit) if args.unit else None
        user = create_user(
            session,
            SYSTEM,
            args.name,
            read_password(args.password_stdin),
            Role(args.role),
            unit_id=unit_id,
            display_name=args.display_name,
            can_see_contacts=args.see_contacts,
        )
        session.commit()
        print(f"已创建用户 {user.username}（{user.role.label}）")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from duban.auth import list_users
    from duban.permissions import SYSTEM

    with Session(open_db()) as session:
        for user in list_users(session, SYSTEM):
            state = "启用" if user.active else "停用"
            print(f"{user.username}\t{user.role.label}\t{state}\t{user.display_name}")
    return 0


def cmd_user_reset_password(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from duban.auth import find_user, reset_password
    from duban.permissions import SYSTEM

    with Session(open_db()) as session:
        user = find_user(session, args.name)
        if user is None:
            raise ValidationError(f"用户“{args.name}”不存在")
        reset_password(session, SYSTEM, user.id, read_password(args.password_stdin))  # type: ignore[arg-type]  # ids are set: these rows were flushed
        session.commit()
        print(f"已重置 {user.username} 的密码（锁定已解除）")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sqlmodel import Session

    from duban.backup import PG_HINT, create_backup
    from duban.permissions import SYSTEM

    with Session(open_db()) as session:
        result = create_backup(
            session, SYSTEM, out=Path(args.out) if args.out else None, keep=args.keep
        )
        session.commit()
    info = result.backup
    print(f"备份完成：{info.path}")
    print(f"数据库：{'已包含' if info.has_database else '未包含'}；文件 {info.files} 个")
    if not info.has_database:
        print(PG_HINT, file=sys.stderr)
    for path in result.pruned:
        print(f"已删除旧备份：{path}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from duban.backup import read_backup, restore_backup
    from duban.permissions import SYSTEM

    info = read_backup(Path(args.dir))
    if not args.yes:
        print(
            f"将用 {info.created_at:%Y-%m-%d %H:%M:%S} 的备份覆盖当前数据（当前数据会先自动备份）。"
        )
        if input("确认恢复请输入 yes：").strip().lower() != "yes":
            print("已取消，未作任何改动")
            return 1
    result = restore_backup(open_db(), SYSTEM, Path(args.dir))
    print(f"恢复前的数据已备份到：{result.safety.path}")
    if result.database_restored:
        print(f"已从 {result.restored.path} 恢复数据库与文件")
    else:
        print(
            f"已从 {result.restored.path} 恢复文件；数据库请用 pg_restore 恢复（见 docs/DEPLOY.md）"
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """协调督办工作报告 for any range, written to FILE.docx (and registered like any paper)."""
    from pathlib import Path

    from sqlmodel import Session

    from duban.kpi import Period
    from duban.permissions import SYSTEM
    from duban.reports import render_work_report

    period = Period(parse_date(args.date_from), parse_date(args.date_to))
    out = Path(args.out)
    with Session(open_db()) as session:
        result = render_work_report(session, SYSTEM, period)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(result.content)
        except OSError as exc:
            raise ValidationError(f"无法写入 {out}：{exc.strerror}") from exc
        session.commit()
    print(f"已生成{period.label}协调督办工作报告：{out}")
    return 0


def cmd_docs_render(args: argparse.Namespace) -> int:
    """One paper of a case (kept and registered under data/documents/), copied into DIR."""
    import shutil
    from pathlib import Path

    from sqlmodel import Session

    from duban import config
    from duban.documents import case_by_no, kind_spec, render_document
    from duban.permissions import SYSTEM

    spec = kind_spec(args.kind)
    out = Path(args.out)
    with Session(open_db()) as session:
        case = case_by_no(session, args.case_no)
        doc = render_document(session, SYSTEM, spec.kind, case_id=case.id)
        try:
            out.mkdir(parents=True, exist_ok=True)
            target = shutil.copyfile(config.data_dir() / doc.path, out / doc.file_name)
        except OSError as exc:
            raise ValidationError(f"无法写入 {out}：{exc.strerror}") from exc
        session.commit()
    print(target)
    return 0


def cmd_candidates(args: argparse.Namespace) -> int:
    """Supervision candidates, one group per line: rule, its 工单编号, the reason."""
    import csv
    from datetime import datetime, time

    from sqlmodel import Session

    from duban import formulas
    from duban.analysis import find_candidates
    from duban.permissions import SYSTEM

    as_of = datetime.combine(parse_date(args.as_of), time(23, 59, 59)) if args.as_of else None
    with Session(open_db()) as session:
        result = find_candidates(session, SYSTEM, as_of)
        session.commit()  # the matter index it brought up to date: the next run is incremental
    rows = [(g.rule.label, " ".join(g.ticket_nos), g.reason) for g in result.groups]
    if args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["规则", "工单编号", "理由"])
        writer.writerows([[formulas.csv_field(v) for v in row] for row in rows])
    else:
        for row in rows:
            print("\t".join(row))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """热线考核 per unit: a header row, then one row per unit (csv on stdout or --out;
    xlsx in the report's layout, with the rules in force, needs --out)."""
    from pathlib import Path

    from sqlmodel import Session

    from duban import score
    from duban.kpi import Period
    from duban.permissions import SYSTEM

    period = Period(parse_date(args.date_from), parse_date(args.date_to))
    if args.format == "xlsx" and not args.out:
        raise ValidationError("xlsx 格式需要用 --out 指定输出文件")
    with Session(open_db()) as session:
        rows = score.compute(session, period)
        if args.format == "xlsx":
            data = score.to_xlsx(
                rows, period, score.load_rules(session), score.deductions(session, SYSTEM, period)
            )
        else:
            data = score.to_csv(rows).encode("utf-8")
    if not args.out:
        sys.stdout.write(data.decode("utf-8"))
        return 0
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as exc:
        raise ValidationError(f"无法写入 {out}：{exc.strerror}") from exc
    print(f"已导出{period.label}热线考核（{len(rows)} 个单位）：{out}")
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    """One xlsx per unit with open steps into --out; one line per unit on stdout; --send
    mails each unit its list (exit 3 when some unit could not be sent to)."""
    from pathlib import Path

    from sqlmodel import Session

    from duban import chasing, mailing
    from duban.clock import today
    from duban.permissions import SYSTEM

    day = parse_date(args.as_of) if args.as_of else today()
    with Session(open_db()) as session:
        lists = chasing.unit_lists(session, SYSTEM, day)
        chasing.write_digest(lists, day, Path(args.out))
        for unit_list in lists:
            print(unit_list.line())
        if not args.send:
            return 0
        results = mailing.send_unit_lists(session, SYSTEM, lists, day)
        session.commit()
    for r in results:
        if not r.sent:
            print(f"未发送：{r.unit_name}（{r.message}）", file=sys.stderr)
    return 0 if all(r.sent for r in results) else 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m duban", description="12345 热线督办台账 命令行"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="创建或升级数据库；--demo 生成演示数据")
    p.add_argument("--demo", action="store_true", help="填充虚构的演示数据（单位、工单、督办事项）")
    p.set_defaults(handler=cmd_init)

    wd = sub.add_parser("workdays", help="工作日计算").add_subparsers(
        dest="workdays_command", required=True
    )
    p = wd.add_parser("add", help="打印 DATE 之后第 N 个工作日（不含当天）")
    p.add_argument("date", help="起始日期 YYYY-MM-DD")
    p.add_argument("n", help="工作日天数")
    p.set_defaults(handler=cmd_workdays_add)

    p = sub.add_parser("report", help="生成协调督办工作报告（docx）")
    p.add_argument("--from", dest="date_from", required=True, help="开始日期 YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", required=True, help="结束日期 YYYY-MM-DD（含当天）")
    p.add_argument("--out", required=True, help="输出文件 FILE.docx")
    p.set_defaults(handler=cmd_report)

    docs = sub.add_parser("docs", help="督办文书").add_subparsers(
        dest="docs_command", required=True
    )
    p = docs.add_parser("render", help="为督办事项生成文书（登记存档，并复制到 DIR）")
    p.add_argument("case_no", metavar="CASE_NO", help="督办编号，例如 赵巷督〔2024〕第007号")
    p.add_argument("kind", metavar="KIND", help="文书类型：supervision-form | onsite-notice | special-report | escalation-report | meeting-minutes | feedback-receipt")  # fmt: skip
    p.add_argument("--out", required=True, metavar="DIR", help="输出目录")
    p.set_defaults(handler=cmd_docs_render)

    p = sub.add_parser("import-tickets", help="导入 12345 平台导出的工单（.xlsx/.xls/.csv）")
    p.add_argument("file", help="导出文件")
    p.add_argument("--dry-run", action="store_true", help="只检查并报告，不写入数据库")
    p.add_argument("--create-units", action="store_true", help="为未匹配的承办单位新建单位")
    p.set_defaults(handler=cmd_import_tickets)

    p = sub.add_parser("export", help="导出工单或督办事项为 xlsx")
    p.add_argument("what", choices=["tickets", "cases"], help="tickets：工单；cases：督办事项")
    p.add_argument("--out", required=True, help="输出文件 FILE.xlsx")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("score", help="热线考核：每个承办单位一行（csv 或 xlsx）")
    p.add_argument("--from", dest="date_from", required=True, help="开始日期 YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", required=True, help="结束日期 YYYY-MM-DD（含当天）")
    p.add_argument("--format", choices=["csv", "xlsx"], default="csv", help="输出格式")
    p.add_argument("--out", help="输出文件（csv 不指定时打印到屏幕）")
    p.set_defaults(handler=cmd_score)

    p = sub.add_parser("candidates", help="督办线索：每行一组（规则、工单编号、理由）")
    p.add_argument("--format", choices=["text", "csv"], default="text", help="输出格式")
    p.add_argument("--as-of", help="分析截至日期 YYYY-MM-DD（默认今天）")
    p.set_defaults(handler=cmd_candidates)

    p = sub.add_parser("digest", help="各承办单位待办清单：每个单位一个 xlsx，每单位打印一行计数")
    p.add_argument("--as-of", help="截至日期 YYYY-MM-DD（默认今天）")
    p.add_argument("--out", required=True, help="清单存放目录（不存在时新建）")
    p.add_argument("--send", action="store_true", help="按各单位邮箱发送清单（须已配置邮件服务器）")
    p.set_defaults(handler=cmd_digest)

    users = sub.add_parser("user", help="用户账号").add_subparsers(
        dest="user_command", required=True
    )
    p = users.add_parser(
        "add", help="新建用户（密码在提示时输入，或用 --password-stdin 从标准输入读取）"
    )
    p.add_argument("name", help="用户名")
    p.add_argument("--role", required=True, choices=["admin", "center", "unit", "leader"],
                   help="admin 管理员；center 城运中心；unit 承办单位；leader 领导")  # fmt: skip
    p.add_argument("--unit", help="所属承办单位的全称（--role unit 时必填）")
    p.add_argument("--display-name", default="", help="姓名")
    p.add_argument("--see-contacts", action="store_true", help="允许领导查看诉求人联系方式")
    p.add_argument("--password-stdin", action="store_true", help="从标准输入的第一行读取密码")
    p.set_defaults(handler=cmd_user_add)
    p = users.add_parser("list", help="列出用户")
    p.set_defaults(handler=cmd_user_list)
    p = users.add_parser("reset-password", help="重置用户密码（并解除锁定）")
    p.add_argument("name", help="用户名")
    p.add_argument("--password-stdin", action="store_true", help="从标准输入的第一行读取密码")
    p.set_defaults(handler=cmd_user_reset_password)

    p = sub.add_parser("backup", help="备份数据库（SQLite 在线备份）与文书、上传文件")
    p.add_argument("--out", help="备份存放目录（默认 data/backups），其中新建以时间命名的文件夹")
    p.add_argument("--keep", type=int, help="只保留最新的 N 份备份（默认取系统设置）")
    p.set_defaults(handler=cmd_backup)

    p = sub.add_parser("restore", help="从备份文件夹恢复（恢复前自动备份当前数据）")
    p.add_argument("dir", help="备份文件夹 data/backups/<时间>")
    p.add_argument("--yes", action="store_true", help="不再询问，直接恢复")
    p.set_defaults(handler=cmd_restore)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except DubanError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2

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

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except DubanError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2

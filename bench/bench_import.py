"""Benchmark: importing a 100,000-row, 15-column 12345 export, against the named baseline.

    python -m bench.bench_import [--rows 100000] [--url postgresql+psycopg://…]

The export is written once with openpyxl (write-only) into a temporary folder, shaped like
the platform's: a merged title row, 受理时间 as date cells and as text, text 工单编号, an
unknown column. Both runs start from an empty, migrated database of the same kind:

- baseline: `pandas.read_excel(engine="calamine", dtype=str)` + one SQLAlchemy Core bulk
  insert of the same rows into `ticket` (no validation, no audit);
- duban: `duban.importer.import_tickets` (header search, value parsing, unit matching,
  upsert, ImportBatch and one audit row per ticket) in one transaction.

Prints both times, the ratio (target ≤ 1.5×) and the process's peak memory (target < 1 GB).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from sqlalchemy import Engine, insert, text
from sqlmodel import Session, SQLModel

from duban.clock import now
from duban.db import make_engine, upgrade
from duban.demo import _ensure_units
from duban.importer import import_tickets
from duban.models import Ticket
from duban.permissions import SYSTEM

TARGET_RATIO = 1.5
TARGET_PEAK_MB = 1024
HEADER = ["工单编号", "受理时间", "诉求人", "联系电话", "诉求地址", "诉求内容", "诉求分类",
          "责任单位", "办理时限", "工单状态", "回访满意度", "是否解决", "标题", "市级督办",
          "催办次数"]  # fmt: skip
UNITS = ["镇城建中心", "城管中队", "镇房管办", "示例一村村委会", "市场所", "示例新设办"]
TEXTS = ["夜间施工噪声扰民，影响休息", "楼道堆物占用消防通道", "道路破损坑洼，雨天积水",
         "餐饮油烟扰民", "物业不维修电梯，多次报修无果"]  # fmt: skip


def write_export(path: Path, rows: int, seed: int = 24) -> None:
    """A platform-style export of `rows` tickets (deterministic)."""
    rng = random.Random(seed)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("工单")
    ws.append(["12345市民服务热线工单导出（基准测试，数据为虚构）"])
    ws.append(HEADER)
    start = datetime(2024, 1, 1)
    for i in range(rows):
        when = start + timedelta(minutes=rng.randrange(365 * 24 * 60))
        received = when if i % 2 else when.strftime("%Y/%m/%d %H:%M")
        ws.append([
            f"24{i:016d}", received, rng.choice("张王李赵刘") + "先生", f"147{rng.randrange(10**8):08d}",
            f"示例镇示例路{rng.randrange(1, 900)}号", rng.choice(TEXTS), "市容环境", rng.choice(UNITS),
            (when + timedelta(days=7)).strftime("%Y-%m-%d"), rng.choice(["已办结", "处理中"]),
            rng.choice(["满意", "非常满意", "一般", "不满意", ""]), rng.choice(["是", "否", ""]),
            "测试工单", "否", str(rng.randrange(3)),
        ])  # fmt: skip
    wb.save(path)


def fresh(url: str | None, folder: Path, name: str) -> Engine:
    """An empty, migrated database with the demo units."""
    engine = make_engine(url or f"sqlite:///{folder / name}.db")
    if url:
        with engine.begin() as conn:
            tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    upgrade(engine)
    with Session(engine) as session:
        _ensure_units(session)
    return engine


def baseline(engine: Engine, path: Path) -> float:
    """read_excel(calamine, dtype=str) + one Core bulk insert of the same rows (every column
    of `ticket` filled, as the importer fills it; values taken as they come, nothing checked)."""
    started = time.perf_counter()
    df = pd.read_excel(path, engine="calamine", dtype=str, header=1).fillna("")
    received = pd.to_datetime(df["受理时间"], format="mixed").dt.to_pydatetime()
    due = pd.to_datetime(df["办理时限"], format="mixed").dt.to_pydatetime()
    stamp = now()
    rows = [
        {"ticket_no": no, "received_at": at, "title": title, "address": address,
         "address_norm": address, "content": content, "category": cat, "caller": caller,
         "phone": phone, "unit_id": None, "unit_raw": unit, "platform_due_at": due_at,
         "platform_status": status, "callback_result": None, "resolved": None,
         "city_supervised": False, "raw": {"催办次数": urge}, "notes": "", "tags": "",
         "repeat_group": "", "version": 1, "deleted_at": None, "import_batch_id": None,
         "created_at": stamp, "updated_at": stamp, "created_by": None, "updated_by": None}
        for no, at, caller, phone, address, content, cat, unit, due_at, status, title, urge in zip(
            df["工单编号"], received, df["诉求人"], df["联系电话"], df["诉求地址"], df["诉求内容"],
            df["诉求分类"], df["责任单位"], due, df["工单状态"], df["标题"], df["催办次数"],
            strict=True)
    ]  # fmt: skip
    with Session(engine) as session:
        session.execute(insert(Ticket.__table__), rows)  # type: ignore[attr-defined]
        session.commit()
    return time.perf_counter() - started


def duban_import(engine: Engine, path: Path) -> tuple[float, str]:
    started = time.perf_counter()
    with Session(engine) as session:
        report = import_tickets(session, SYSTEM, path.read_bytes(), path.name)
        session.commit()
    return time.perf_counter() - started, report.summary_line()


def peak_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--url", help="PostgreSQL URL (default: SQLite files in a temp folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "12345-export.xlsx"
        started = time.perf_counter()
        write_export(path, args.rows)
        print(f"export: {args.rows} rows × {len(HEADER)} columns, {path.stat().st_size / 1e6:.1f} MB "
              f"(written in {time.perf_counter() - started:.1f} s)")  # fmt: skip
        base = baseline(fresh(args.url, folder, "baseline"), path)
        ours, summary = duban_import(fresh(args.url, folder, "duban"), path)
    ratio = ours / base
    peak = peak_mb()
    print(f"baseline (read_excel calamine dtype=str + Core bulk insert): {base:.2f} s")
    print(f"duban import_tickets: {ours:.2f} s  ({summary})")
    print(
        f"ratio: {ratio:.2f}× (target ≤ {TARGET_RATIO}×)  {'OK' if ratio <= TARGET_RATIO else 'SLOW'}"
    )
    print(f"peak memory (process): {peak:.0f} MB (target < {TARGET_PEAK_MB} MB)  "
          f"{'OK' if peak < TARGET_PEAK_MB else 'HIGH'}")  # fmt: skip
    return 0 if ratio <= TARGET_RATIO and peak < TARGET_PEAK_MB else 1


if __name__ == "__main__":
    sys.exit(main())

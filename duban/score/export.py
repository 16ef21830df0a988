"""The scorecard as csv and xlsx (the CLI's and the page's columns, the formulas)."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlmodel import Session

from duban import audit
from duban.enums import AuditAction
from duban.kpi import Period
from duban.permissions import Actor
from duban.score.manual import DeductionLine, deductions
from duban.score.rules import GROUPS, ScoreRules, shown
from duban.score.scoring import UnitScore, percent, rounded, scorecard, two

# The CLI's columns, in the order (also the first columns of the xlsx).
HEADERS = [
    "承办单位", "分组", "受理量", "受理量得分", "先行联系率", "先行联系得分", "办结量", "逾期工单量",
    "按时办结率", "减分", "实际解决数", "解释说明数", "诉求解决得分", "市民满意率", "市民满意得分",
    "总得分", "排名",
]  # fmt: skip

# --- export -----------------------------------------------------------------------------------

XLSX_HEADERS = [
    "排名", "承办单位", "受理量", "受理量得分", "先行联系率", "先行联系得分", "办结量", "逾期工单量",
    "按时办结率", "减分情况", "实际解决数", "实际解决率", "解释说明数", "解释说明率", "诉求解决得分",
    "市民满意率", "市民满意得分", "总得分",
]  # fmt: skip


def report_row(s: UnitScore) -> list[Any]:
    """A row of the town's 热线报表 layout."""
    c = s.counts
    late = f"逾期 {s.overdue} 件扣 {two(s.overdue_points)}"
    if s.manual_points:
        late += f"；人工扣分 {two(s.manual_points)}"
    return [
        "—" if s.rank is None else s.rank, s.unit_name, c.tickets, float(rounded(s.volume_score)),
        percent(s.contact_rate), float(rounded(s.contact_score)), c.finished, s.overdue,
        percent(s.on_time_rate), late if s.deduction else "—", c.solved, percent(s.solved_rate),
        c.explained, percent(s.explained_rate), float(rounded(s.solve_score)),
        percent(s.satisfaction_rate), float(rounded(s.satisfaction_score)), float(s.total),
    ]  # fmt: skip


def to_csv(rows: list[UnitScore]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADERS)
    writer.writerows(r.cells() for r in rows)
    return buffer.getvalue()


def to_xlsx(
    rows: list[UnitScore], period: Period, rules: ScoreRules, lines: list[DeductionLine]
) -> bytes:
    """One sheet per group in the report's layout, then 考核规则: the rules in force, the
    formulas and the manual deductions counted."""
    wb = Workbook()
    wb.remove(wb.active)
    for g in GROUPS:
        members = [r for r in rows if r.group == g]
        if members:
            _table(
                wb.create_sheet(g),
                f"热线报表（{g}） {period.label}",
                XLSX_HEADERS,
                [report_row(r) for r in members],
            )
    ws = wb.create_sheet("考核规则")
    body: list[list[Any]] = [[label, value] for label, value in rules.lines()]
    body += [[], ["计分公式", ""]] + [[f, ""] for f in formulas(rules)]
    body += [[], ["人工扣分", ""]] + [
        [f"{d.unit_name} {d.day.isoformat()} {d.reason}（{d.who}）", shown(d.points)] for d in lines
    ]
    _table(ws, f"考核规则（{period.label}适用）", ["规则", "取值"], body)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def formulas(rules: ScoreRules) -> list[str]:
    """The formulas in words, with the weights in force."""
    d = rules.to_dict()
    return [
        f"受理量得分 = {shown(d['volume_weight'])} × 本单位受理量 ÷ 本组受理量",
        f"先行联系得分 = {shown(d['contact_weight'])} × 先行联系“是” ÷ （“是” + “否”）；均无为 0",
        f"诉求解决得分 = {shown(d['solve_weight'])} × （实际解决 + {shown(d['explained_credit'])} × "
        "解释说明） ÷ （实际解决 + 解释说明）；均无为 0",
        f"市民满意得分 = {shown(d['satisfaction_weight'])} × （满意 + {shown(d['basic_credit'])} × "
        "基本满意） ÷ （满意 + 基本满意 + 不满意）；未回访不计；均无为 0",
        f"减分 = {shown(d['overdue_points'])} × 逾期工单量 + 人工扣分",
        "总得分 = 四项得分之和 − 减分（保留两位小数）；组内按总得分排名，同分同名次",
    ]


def _table(ws: Any, title: str, headers: list[str], rows: list[list[Any]]) -> None:
    """Title in row 1, headers in row 2, data below; columns sized for Chinese text."""
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(headers)
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    for row in rows:
        ws.append(row)
    for i, header in enumerate(headers, start=1):
        width = max([len(str(header))] + [len(str(r[i - 1])) for r in rows if len(r) >= i])
        ws.column_dimensions[get_column_letter(i)].width = min(60, 2 * width + 2)
    ws.freeze_panes = "A3"


def export_xlsx(session: Session, actor: Actor, period: Period) -> bytes:
    """The page's download: the actor's scorecard in the report layout (audited)."""
    card = scorecard(session, actor, period)
    data = to_xlsx(card.rows, period, card.rules, deductions(session, actor, period))
    audit.record(session, actor, AuditAction.EXPORT, "score", None, new=period.label)
    return data

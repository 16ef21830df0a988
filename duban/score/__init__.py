"""热线考核: the 12345 platform's monthly per-unit score, reproduced from the imported tickets
and explained down to the ticket (docs/KPI.md, section 热线考核).

Per unit, over the tickets whose 诉求时间 lies in the period, in two groups (村居 and 部门):

    受理量得分 = V × unit's tickets ÷ group's tickets
    先行联系得分 = C × 是 ÷ (是 + 否)
    诉求解决得分 = S × (实际解决 + w × 解释说明) ÷ (实际解决 + 解释说明)
    市民满意得分 = M × (满意 + b × 基本满意) ÷ (满意 + 基本满意 + 不满意)
    减分 = d × tickets with 是否逾期 = 是 + the center's manual deductions
    总得分 = the four scores − 减分 (2 decimals); 排名 within the group, ties share a rank

Every weight is the setting `score_rules` (the center changes it here, audited: who, when,
old → new). The counts are one SQL aggregate per period (GROUP BY unit), the arithmetic
is exact (fractions) so equal scores really tie. A ticket that costs its unit points is
found by the same conditions the counts use (`lost_tickets`), and the points it cost add up
to the unit's loss on that indicator.

Who sees what is decided here: a unit user gets its own group's table (aggregates only) and
only its own lost-point tickets, trend and deductions.

One module a concern: `rules` (the weights, audited), `counting` (the SQL aggregate per
unit), `scoring` (the exact arithmetic, ranks, the scorecard a user sees, trend), `lost`
(the tickets that cost points, the units losing most), `manual` (the center's manual
deductions) and `export` (csv and xlsx).
"""

from duban.score.export import HEADERS, XLSX_HEADERS, export_xlsx, formulas, to_csv, to_xlsx
from duban.score.lost import INDICATORS, losing_units, lost_tickets
from duban.score.manual import DeductionLine, add_deduction, deductions, remove_deduction
from duban.score.rules import (
    RULE_LABELS,
    RuleChange,
    ScoreRules,
    load_rules,
    rule_history,
    save_rules,
    shown,
)
from duban.score.scoring import (
    Scorecard,
    UnitScore,
    compute,
    previous_period,
    scorecard,
    trend,
    two,
)

__all__ = [
    "DeductionLine",
    "HEADERS",
    "INDICATORS",
    "RULE_LABELS",
    "RuleChange",
    "ScoreRules",
    "Scorecard",
    "UnitScore",
    "XLSX_HEADERS",
    "add_deduction",
    "compute",
    "deductions",
    "export_xlsx",
    "formulas",
    "load_rules",
    "losing_units",
    "lost_tickets",
    "previous_period",
    "remove_deduction",
    "rule_history",
    "save_rules",
    "scorecard",
    "shown",
    "to_csv",
    "to_xlsx",
    "trend",
    "two",
]

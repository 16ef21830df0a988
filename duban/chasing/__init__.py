"""签收, 催办 and 延期: following each 督办单 and notice up until the unit answers.

The seed's deadlines only work if someone follows them: "跟踪督办", "督促抓好落实". This
package records that a unit received a paper (签收, timed in working days), that the center
chased it (催办: phone, written 催办通知, in-app), and that a unit asked for more time
(延期申请, approved or refused by the center). Every write is audited on the step, so it
appears in the case's timeline. An approved extension moves the step's deadline itself
(the original is kept on the request), so every on-time judgement — the frozen outcome in
`duban.cases`, the KPIs, the boards and the assessment — reads the approved deadline.

A unit's to-do list (`open_items`) uses the boards' deadline rule (`duban.boards`): a due
date on a rest day counts as the next working day; overdue means due on or before the last
working day before today. 临期提醒 is due today or on the next working day, no feedback yet.

One module a concern: `access` (a step read with the actor's rights), `signing` (签收),
`chases` (催办 and the 催办通知), `extensions` (延期申请 and its decision), `todo` (the
to-do list and each unit's list as a file) and `figures` (what the step, the case page and
the boards show).
"""

from duban.chasing.chases import case_chase_count, record_chase
from duban.chasing.extensions import (
    MAX_EXTENSION_WORKDAYS,
    ExtensionRow,
    decide_extension,
    pending_extensions,
    request_extension,
)
from duban.chasing.figures import StepChasing, UnitFigures, step_chasing, unit_figures
from duban.chasing.signing import SIGN_KINDS, sign_deadline, sign_for
from duban.chasing.todo import (
    CHASED,
    DUE_SOON,
    DUE_SOON_WORKDAYS,
    OVERDUE,
    TO_SIGN,
    Item,
    UnitList,
    list_file_name,
    list_xlsx,
    lists_zip,
    open_items,
    unit_lists,
    write_digest,
)

__all__ = [
    "CHASED",
    "DUE_SOON",
    "DUE_SOON_WORKDAYS",
    "ExtensionRow",
    "Item",
    "MAX_EXTENSION_WORKDAYS",
    "OVERDUE",
    "SIGN_KINDS",
    "StepChasing",
    "TO_SIGN",
    "UnitFigures",
    "UnitList",
    "case_chase_count",
    "decide_extension",
    "list_file_name",
    "list_xlsx",
    "lists_zip",
    "open_items",
    "pending_extensions",
    "record_chase",
    "request_extension",
    "sign_deadline",
    "sign_for",
    "step_chasing",
    "unit_figures",
    "unit_lists",
    "write_digest",
]

"""The ticket fields an import knows: the seed's labels, header synonyms, the words of
callback and resolution values, lengths; the errors and the report of an import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from duban.enums import CallbackResult, Resolution
from duban.errors import ValidationError
from duban.routing import RouteSuggestion

# The seed's words for each ticket field (also the export's headers).
FIELD_LABELS: dict[str, str] = {
    "ticket_no": "工单编号",
    "received_at": "诉求时间",
    "title": "标题",
    "address": "诉求地址",
    "content": "内容描述",
    "unit": "承办单位",
    "category": "问题分类",
    "caller": "诉求人",
    "phone": "联系电话",
    "platform_due_at": "办理时限",
    "platform_status": "工单状态",
    "callback_result": "回访结果",
    "resolved": "是否解决",
    "city_supervised": "市级督办",
    "first_contact": "是否先行联系",
    "resolution": "办理结果",
    "finished_at": "办结时间",
    "overdue": "是否逾期",
}

# Header synonyms per field, most specific first (an earlier synonym wins a tie).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "ticket_no": ("工单编号", "工单号", "工单ID", "编号"),
    "received_at": (
        "诉求时间",
        "来电时间",
        "受理时间",
        "登记时间",
        "创建时间",
        "区交办时间",
        "派单时间",
    ),
    "title": ("标题", "工单标题", "诉求标题"),
    "address": ("诉求地址", "反映地址", "事发地址", "详细地址", "事件发生地", "地址"),
    "content": ("内容描述", "诉求内容", "反映内容", "问题描述"),
    "unit": ("承办单位", "主办单位", "处理单位", "责任单位"),
    "category": ("问题分类", "诉求分类", "业务类别"),
    "caller": ("诉求人", "来电人", "求助人", "联系人"),
    "phone": ("联系电话", "来电号码", "手机号"),
    "platform_due_at": ("办理时限", "处理时限", "截止时间", "区交办办结期限"),
    "platform_status": ("工单状态", "办理状态", "状态"),
    "callback_result": ("回访结果", "回访满意度", "市民满意度", "满意度", "市民评价"),
    "resolved": ("是否解决",),
    "city_supervised": ("市级督办", "是否市级督办"),
    "first_contact": ("是否先行联系", "先行联系", "是否先联系", "先行联系情况"),
    "resolution": ("办理结果", "解决情况", "处理结果", "办理情况", "解决结果"),
    "finished_at": ("办结时间", "结案时间", "办结日期", "处置完成时间", "完成时间"),
    "overdue": ("是否逾期", "是否超期", "逾期", "超期"),
}

# Columns of our own export that hold the center's fields: never read back from a file.
CENTER_HEADERS = ("核定承办单位", "备注", "标签", "重复组")

# Fields a user may map an unknown header to (the column-mapping form).
MAPPABLE_FIELDS = tuple(FIELD_LABELS)
IGNORE = ""  # a ColumnMapping.field meaning "drop this column"

# Callback wording seen on platforms → the four canonical values.
CALLBACK_WORDS: dict[str, CallbackResult] = {
    "满意": CallbackResult.SATISFIED,
    "非常满意": CallbackResult.SATISFIED,
    "很满意": CallbackResult.SATISFIED,
    "基本满意": CallbackResult.BASIC,
    "比较满意": CallbackResult.BASIC,
    "较满意": CallbackResult.BASIC,
    "一般": CallbackResult.BASIC,
    "理解": CallbackResult.BASIC,
    "不满意": CallbackResult.UNSATISFIED,
    "很不满意": CallbackResult.UNSATISFIED,
    "非常不满意": CallbackResult.UNSATISFIED,
    "未回访": CallbackResult.NONE,
    "无需回访": CallbackResult.NONE,
    "不需回访": CallbackResult.NONE,
    "拒绝回访": CallbackResult.NONE,
    "未联系上": CallbackResult.NONE,
    "联系不上": CallbackResult.NONE,
}
# 办理结果 wording → the three outcomes the 热线考核 counts (是/否 of old 解决情况 columns too).
RESOLUTION_WORDS: dict[str, Resolution] = {
    "实际解决": Resolution.SOLVED,
    "已解决": Resolution.SOLVED,
    "解决": Resolution.SOLVED,
    "是": Resolution.SOLVED,
    "解释说明": Resolution.EXPLAINED,
    "解释": Resolution.EXPLAINED,
    "已解释": Resolution.EXPLAINED,
    "已解释说明": Resolution.EXPLAINED,
    "未解决": Resolution.UNSOLVED,
    "部分解决": Resolution.UNSOLVED,
    "不解决": Resolution.UNSOLVED,
    "退单": Resolution.UNSOLVED,
    "否": Resolution.UNSOLVED,
}
YES_WORDS = frozenset({"是", "已解决", "解决", "y", "yes", "true", "1", "√", "市级督办"})
NO_WORDS = frozenset({"否", "未解决", "部分解决", "不解决", "退单", "n", "no", "false", "0", "×"})

# Maximum lengths of the text columns (the database would refuse longer values).
MAX_LENGTHS = {
    "ticket_no": 64,
    "title": 200,
    "address": 300,
    "category": 100,
    "caller": 100,
    "phone": 50,
    "unit": 200,
    "platform_status": 50,
}

# Platform fields a re-import refreshes (when the file has their column).
PLATFORM_FIELDS = (
    "received_at",
    "title",
    "address",
    "content",
    "category",
    "caller",
    "phone",
    "platform_due_at",
    "platform_status",
    "callback_result",
    "resolved",
    "city_supervised",
    "first_contact",
    "resolution",
    "finished_at",
    "overdue",
)
DATE_HINT = "可用格式：2024-01-24 09:30、2024/1/24 9:30、2024年1月24日 9时30分、20240124"


class ImportRefused(ValidationError):
    """The file as a whole cannot be imported; nothing was written."""


class CellError(ValueError):
    """One cell cannot be read; the message (Chinese) says why."""


@dataclass(frozen=True)
class Reject:
    """A row left out of the import: Excel row number, the file's column header, the reason."""

    row: int
    column: str
    reason: str
    ticket_no: str = ""

    def line(self) -> str:
        return f"第 {self.row} 行 [{self.column}] {self.reason}"


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    file_name: str
    sha256: str
    dry_run: bool
    sheet: str = ""
    header_row: int = 0  # as Excel shows it
    columns: dict[str, str] = field(default_factory=dict)  # field → the file's header
    unknown_headers: list[str] = field(default_factory=list)  # kept in Ticket.raw
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_empty: int = 0
    rejects: list[Reject] = field(default_factory=list)
    unknown_units: list[str] = field(default_factory=list)
    created_units: list[str] = field(default_factory=list)
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)  # no, field, old, new
    batch_id: int | None = None
    previous_imports: list[str] = field(default_factory=list)  # same file imported before
    route_suggestions: list[RouteSuggestion] = field(default_factory=list)  # 专题会 rules that fit

    @property
    def rejected(self) -> int:
        return len({r.row for r in self.rejects})

    def summary_line(self) -> str:
        """The CLI's contract: the last line of `import-tickets`."""
        return (
            f"inserted={self.inserted} updated={self.updated} "
            f"unchanged={self.unchanged} rejected={self.rejected}"
        )

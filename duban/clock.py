"""The one clock of the application: naive Asia/Shanghai local time.

Dates are stored without a zone (DESIGN.md); taking "now" in one place means a server
running in UTC still writes Shanghai times, and tests can reason about them.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """The current Shanghai wall-clock time, without tzinfo, to the second."""
    return datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)


def today() -> date:
    return now().date()


def cn_date(value: date | datetime | None) -> str:
    """`2024年1月24日`, the way every document and page shows a date; '' for none."""
    if value is None:
        return ""
    return f"{value.year}年{value.month}月{value.day}日"


def cn_due(value: date | datetime | None, provisional: bool) -> str:
    """A deadline as shown everywhere: `2024年3月11日`, marked `（暂估）` when a year on the
    way had no confirmed holiday schedule (`duban.workdays.DueDate.provisional`)."""
    if value is None:
        return ""
    return cn_date(value) + ("（暂估）" if provisional else "")

"""Address keys: an address as the platform spells it, parsed into the parts that say where.

Tickets about one place are written many ways: with or without 上海市青浦区赵巷镇 in front,
full-width or half-width digits, 三号楼 / 3号楼 / 3幢, and a landmark after the number that
changes every time (北门, 北门口, （北门）, 小区北门). The key keeps what identifies the place —
the road or estate and its numbers (弄, 号, 幢) — and sets the rest aside as detail, shown but
not compared. The town's own prefixes are a setting (`address_prefixes`), not written here.

    南崧路100弄3号楼北门      → place 南崧路, number 100弄3幢, detail 北门
    青浦区赵巷镇 和睦家园三号楼 → place 和睦家园, number 3幢
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from duban.text import to_halfwidth

__all__ = ["AddressParts", "parse_address", "parse_prefixes", "chinese_number"]

_BRACKETED = re.compile(r"[(（\[【〔]([^)）\]】〕]*)[)）\]】〕]")
_NOISE = re.compile(r"[\s,，。.、;；:：\-—_()（）\[\]【】〔〕\"'“”‘’#＃]")
_CN_DIGITS = "零〇一二两三四五六七八九十百千"
# a Chinese numeral right before a unit: 三号楼 → 3号楼, 一百零二弄 → 102弄
_CN_BEFORE_UNIT = re.compile(rf"([{_CN_DIGITS}]+)(?=号楼|号|弄|幢|栋|座|楼|组|单元|室)")
_NUMBERED = re.compile(r"(\d+)(号楼|号|弄|幢|栋|座|楼|组)")
_ROAD = re.compile(r"(路|街|大道|公路|道|巷)$")
_PLACE_SUFFIX = re.compile(r"(小区|住宅小区)$")
_BUILDING = {"号楼": "幢", "幢": "幢", "栋": "幢", "座": "幢", "楼": "幢"}
_SPLIT = re.compile(r"[、,，;；\s]+")
_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}


class AddressParts(NamedTuple):
    """An address taken apart: `key` (place + number) groups tickets, `detail` informs."""

    place: str  # the road or estate, without the town's prefixes (南崧路, 和睦家园)
    number: str  # its numbers, normalised (100弄3幢); "" when the address names none
    detail: str  # what follows: a landmark, a room (北门, 502室)

    @property
    def key(self) -> str:
        return self.place + self.number


def parse_prefixes(value: object) -> tuple[str, ...]:
    """`上海市、青浦区、赵巷镇` (or a list) → the prefixes, longest first."""
    items = value if isinstance(value, list | tuple) else _SPLIT.split(str(value or ""))
    clean = {to_halfwidth(str(p)).strip() for p in items}
    return tuple(sorted((p for p in clean if p), key=lambda p: (-len(p), p)))


def chinese_number(text: str) -> int | None:
    """一百零二 → 102, 十二 → 12, 三 → 3, 一零二 → 102 (read digit by digit); None if not one."""
    if not text or any(c not in _CN_DIGITS for c in text):
        return None
    if not any(c in "十百千" for c in text):
        return int("".join(str(_DIGIT[c]) for c in text))
    total, digit = 0, 0
    for c in text:
        if c in _DIGIT:
            digit = _DIGIT[c]
        else:
            unit = {"十": 10, "百": 100, "千": 1000}[c]
            total += (digit or 1) * unit
            digit = 0
    return total + digit


def _arabic(match: re.Match[str]) -> str:
    number = chinese_number(match.group(1))
    return match.group(1) if number is None else str(number)


@lru_cache(maxsize=65536)
def parse_address(text: str, prefixes: tuple[str, ...] = ()) -> AddressParts:
    """The parts of one address; the same place spelled another way gives the same key.

    `号` after a road (南崧路100号) is a house number; after a lane or an estate (100弄3号,
    和睦家园3号) it names a building, as 3号楼 / 3幢 / 3栋 do, so all of them become `3幢`.
    A room, a unit or a floor is detail: callers from two flats of one building complain
    about one building.
    """
    raw = to_halfwidth(str(text or ""))
    bracketed = [b for b in _BRACKETED.findall(raw) if b.strip()]
    bare = _NOISE.sub("", _BRACKETED.sub("", raw))
    stripped = True
    while stripped:
        stripped = False
        for prefix in prefixes:
            if bare.startswith(prefix) and len(bare) > len(prefix):
                bare, stripped = bare[len(prefix) :], True
    bare = _CN_BEFORE_UNIT.sub(_arabic, bare)
    first = _NUMBERED.search(bare)
    if first is None or first.start() == 0:
        return AddressParts(_place(bare), "", _joined(bracketed))
    place = _place(bare[: first.start()])
    numbers: list[str] = []
    position, lane = first.start(), False
    while (found := _NUMBERED.match(bare, position)) is not None:
        digits, unit = str(int(found.group(1))), found.group(2)
        if unit == "号" and (lane or not _ROAD.search(place) or numbers):
            unit = "幢"  # 100弄3号, 和睦家园3号, 100号3号: a building
        numbers.append(digits + _BUILDING.get(unit, unit))
        lane = lane or unit == "弄"
        position = found.end()
    rest = bare[position:]
    return AddressParts(place, "".join(numbers), _joined([rest, *bracketed]))


def _place(text: str) -> str:
    """A road or estate name without a generic 小区 at its end (和睦家园小区 → 和睦家园)."""
    trimmed = _PLACE_SUFFIX.sub("", text)
    return trimmed or text


def _joined(parts: list[str]) -> str:
    return "；".join(p for p in (_NOISE.sub("", x) for x in parts) if p)

"""Address keys (duban.address): one place spelled the platform's many ways gives one key."""

from __future__ import annotations

import pytest

from duban.address import chinese_number, parse_address, parse_prefixes

TOWN = parse_prefixes("上海市、青浦区、赵巷镇")


@pytest.mark.parametrize(
    "written",
    ["南崧路100弄", "赵巷镇南崧路100弄", "青浦区赵巷镇南崧路100弄北门", "上海市青浦区赵巷镇南崧路100弄",
     "上海市 青浦区 赵巷镇 南崧路１００弄（北门）", "南崧路一百弄北大门", "南崧路100弄小区北门"],
)  # fmt: skip
def test_prefixes_digits_and_landmarks_do_not_change_the_key(written):
    assert parse_address(written, TOWN).key == "南崧路100弄"


@pytest.mark.parametrize(
    "written", ["和睦家园三号楼", "和睦家园3号楼", "和睦家园3幢", "和睦家园3栋", "和睦家园小区3号楼",
                "和睦家园3号", "和睦家园３号楼502室"],
)  # fmt: skip
def test_a_building_is_one_key_however_it_is_numbered(written):
    assert parse_address(written, TOWN).key == "和睦家园3幢"


def test_the_next_house_number_is_another_key():
    assert parse_address("南崧路100弄", TOWN).key != parse_address("南崧路102弄", TOWN).key
    assert parse_address("南崧路100号", TOWN).key == "南崧路100号"  # on a road: a house


def test_the_parts_keep_the_landmark_as_detail():
    parts = parse_address("青浦区赵巷镇南崧路100弄3号楼（北门）", TOWN)
    assert (parts.place, parts.number, parts.detail) == ("南崧路", "100弄3幢", "北门")
    assert parse_address("沪青平公路1999号工地门口", TOWN).detail == "工地门口"


def test_an_address_without_a_number_is_its_place():
    assert parse_address("赵巷镇和睦家园", TOWN) == ("和睦家园", "", "")
    assert parse_address("", TOWN).key == ""


def test_prefixes_are_a_setting_not_hard_coded():
    assert parse_address("赵巷镇南崧路100弄", ()).key == "赵巷镇南崧路100弄"
    assert parse_address("示例镇南崧路100弄", parse_prefixes(["示例镇"])).key == "南崧路100弄"


@pytest.mark.parametrize(
    ("text", "number"), [("三", 3), ("十", 10), ("十二", 12), ("二十", 20), ("一百零二", 102),
                         ("一零二", 102), ("两", 2), ("甲", None)],
)  # fmt: skip
def test_chinese_numerals(text, number):
    assert chinese_number(text) == number

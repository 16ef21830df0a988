"""What a process keeps between runs of the detection (duban.analysis.kept): the run after a
day's import regroups only what changed, and gives exactly what a run from nothing gives,
whatever happened in between — edits, deletions, another process updating the index, a run
rolled back or failed."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from duban.analysis import candidates, find_candidates, kept
from duban.db import make_engine
from duban.enums import CallbackResult
from duban.models import Ticket
from duban.permissions import SYSTEM
from duban.records import apply_changes
from duban.text import normalize_address
from tests.factories import make_ticket
from tests.test_analysis import AS_OF, incremental_and_full, shake, signature


def state(engine) -> kept._Kept:
    return kept._KEPT[engine]


def add(session, rng: random.Random, day: datetime, count: int, made: list[int]) -> None:
    """`count` tickets received on `day` over places that nest, wordings that nearly
    repeat and callers who call again."""
    places = ["示例镇和平路12号", "和平路12号", "示例镇和平路12号302室", "示例镇和平路", "",
              "示例镇和睦家园3号楼", "和睦家园3号楼（北门）", "南崧路100弄", "南崧路102弄"]  # fmt: skip
    words = [
        "路灯不亮",
        "路灯坏了不亮",
        "夜间施工噪声扰民",
        "夜间施工噪声很大扰民",
        "垃圾堆放无人清运",
    ]
    for _ in range(count):
        made[0] += 1
        place = rng.choice(places)
        make_ticket(
            session, ticket_no=f"K{made[0]:04d}", address=place,
            address_norm=normalize_address(place),
            received_at=day + timedelta(hours=rng.randrange(0, 9)),
            content=rng.choice(words) + rng.choice(["", "，请处理", "，多次反映"]),
            category=rng.choice(["", "市容环境"]), phone=f"1410000{rng.randrange(0, 12):04d}",
            city_supervised=rng.random() < 0.1,
            platform_status=rng.choice(["处理中", "已办结"]),
            platform_due_at=day + timedelta(days=rng.choice([1, 3, 10])),
            callback_result=rng.choice(list(CallbackResult)),
        )  # fmt: skip
    session.commit()


def test_a_day_later_the_run_regroups_only_the_matters_that_changed(engine, session):
    """A day's import and a few edits: the kept state answers, the partitions are kept, and
    the groups equal those of a run from nothing."""
    rng, made = random.Random(3), [0]
    for back in range(40, 0, -1):
        add(session, rng, AS_OF - timedelta(days=back), 3, made)
    incremental_and_full(session)
    before = state(engine)
    add(session, rng, AS_OF + timedelta(hours=1), 6, made)
    edited = session.exec(select(Ticket).where(Ticket.ticket_no == "K0100")).one()
    apply_changes(session, SYSTEM, edited, {"content": "积水严重"}, expected_version=None,
                  label=edited.ticket_no)  # fmt: skip
    session.commit()
    mine = incremental_and_full(session, AS_OF + timedelta(days=1))
    assert state(engine) is before  # kept, not rebuilt
    assert not before.partitions["recent"].fresh
    assert len(before.changed) == 7  # six new, one edited
    assert mine.index.prepared == 7


def changed(ticket: Ticket, change: str) -> dict:
    """One field moved: the wording, the place, the status or the caller."""
    if change == "address":
        return {"address": "和平路12号", "address_norm": normalize_address("和平路12号")}
    if change == "status":
        return {"platform_status": "已办结" if ticket.platform_status == "处理中" else "处理中"}
    return {change: {"content": "路灯坏了不亮，多次反映", "phone": "14100000001"}[change]}


def test_days_of_random_changes_keep_every_run_equal_to_a_run_from_nothing(engine, session):
    """Tickets arrive, change wording, place, status or caller, are deleted and restored,
    while the day of analysis moves forward and the windows slide."""
    rng, made = random.Random(17), [0]
    for back in range(35, 0, -1):
        add(session, rng, AS_OF - timedelta(days=back), 2, made)
    incremental_and_full(session)
    for day in range(12):
        as_of = AS_OF + timedelta(days=day, hours=rng.randrange(0, 5))
        shake(session, rng, 3, ["content", "address", "status", "phone"], changed, restore_odds=0.4)
        add(session, rng, as_of - timedelta(hours=10), rng.randrange(0, 5), made)
        mine = incremental_and_full(session, as_of)
        assert mine.groups, f"day {day}: nothing to compare"
    assert not state(engine).partitions["latest"].fresh


def test_another_process_updating_the_index_is_noticed(engine, session):
    """A second engine on the same database stands for another process: its run writes links
    this one did not see, so this one reads the stored index again."""
    rng, made = random.Random(5), [0]
    for back in range(20, 0, -1):
        add(session, rng, AS_OF - timedelta(days=back), 3, made)
    incremental_and_full(session)
    first = state(engine)
    elsewhere = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with Session(elsewhere) as s:
            add(s, rng, AS_OF - timedelta(hours=2), 5, made)
            find_candidates(s, SYSTEM, AS_OF)
            s.commit()
        mine = incremental_and_full(session)
        assert state(engine) is not first  # the state did not answer: built again
        assert mine.index.prepared == 0  # the other process prepared the new tickets
    finally:
        elsewhere.dispose()


def test_a_run_rolled_back_is_not_trusted(engine, session):
    rng, made = random.Random(7), [0]
    for back in range(20, 0, -1):
        add(session, rng, AS_OF - timedelta(days=back), 3, made)
    incremental_and_full(session)
    add(session, rng, AS_OF - timedelta(hours=3), 4, made)
    prepared = find_candidates(session, SYSTEM, AS_OF).index.prepared  # the new ones, then …
    session.rollback()  # … nothing of it stays
    mine = incremental_and_full(session)
    assert mine.index.prepared == prepared > 0  # again: the kept state did not answer


def test_a_failed_run_drops_the_kept_state(engine, session, monkeypatch):
    rng, made = random.Random(9), [0]
    for back in range(10, 0, -1):
        add(session, rng, AS_OF - timedelta(days=back), 3, made)
    incremental_and_full(session)
    add(session, rng, AS_OF - timedelta(hours=3), 2, made)

    def broken(*args, **kwargs):
        raise RuntimeError("规则出错")

    monkeypatch.setattr(candidates, "_score_loss", broken)
    monkeypatch.setattr(candidates, "_rule_groups", broken)
    with pytest.raises(RuntimeError):
        find_candidates(session, SYSTEM, AS_OF)
    session.rollback()
    assert engine not in kept._KEPT
    monkeypatch.undo()
    expected = signature(find_candidates(session, SYSTEM, AS_OF, rebuild=True))
    session.rollback()
    assert signature(find_candidates(session, SYSTEM, AS_OF)) == expected


def test_a_run_while_another_holds_the_state_works_apart(engine, session):
    """Two analyses at once (two users on the page): the second does not wait for the kept
    state nor touch it; it works on a state of its own and gives the same groups."""
    rng, made = random.Random(13), [0]
    for back in range(10, 0, -1):
        add(session, rng, AS_OF - timedelta(days=back), 3, made)
    incremental_and_full(session)
    held = state(engine)
    add(session, rng, AS_OF - timedelta(hours=4), 3, made)
    with held.lock:  # the first analysis is still running
        apart = find_candidates(session, SYSTEM, AS_OF)
        session.commit()
        assert state(engine) is held  # neither waited for nor replaced
    assert signature(apart) == signature(incremental_and_full(session))
    assert state(engine) is not held  # the index moved under it: the next run built afresh

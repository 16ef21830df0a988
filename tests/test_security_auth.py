"""Attacks on logging in (issue #15): parallel guesses, a first-start race, weak passwords,
usernames that differ only in case outside ASCII, and messages that give accounts away."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from duban import auth
from duban.enums import AuditAction, Role
from duban.errors import ConflictError, ValidationError
from duban.models import AuditLog, User
from duban.permissions import SYSTEM

PASSWORD = "correct horse 1"
FUTURE = datetime(2100, 1, 1, 9, 0)  # login time far from any real lock


def in_parallel(n: int, call: Callable[[int], object]) -> list[object]:
    """Run `call(i)` on n threads released together; results (or exceptions) by i."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = call(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def add_user(engine: Engine, name: str = "clerk") -> int:
    with Session(engine) as s:
        user = auth.create_user(s, SYSTEM, name, PASSWORD, Role.CENTER)
        s.commit()
        return user.id


def test_forty_parallel_wrong_passwords_lock_the_account(engine):
    user_id = add_user(engine)

    def guess(i: int) -> str:
        with Session(engine) as s:
            result = auth.authenticate(s, "clerk", f"wrong guess {i}", at=FUTURE)
            s.commit()
            return result.message

    messages = in_parallel(40, guess)
    assert messages == [auth.BAD_CREDENTIALS] * 40
    with Session(engine) as s:
        user = s.get(User, user_id)
        assert user.locked_until is not None
        locks = s.exec(select(func.count()).where(AuditLog.action == AuditAction.LOCKED)).one()
        failed = s.exec(
            select(func.count()).where(AuditLog.action == AuditAction.LOGIN_FAILED)
        ).one()
    assert (locks, failed) == (1, 40)
    with Session(engine) as s:  # the right password now waits for the lock to end
        assert auth.authenticate(s, "clerk", PASSWORD, at=FUTURE).actor is None


def test_six_parallel_first_starts_make_one_administrator(engine):
    def first_admin(i: int) -> object:
        with Session(engine) as s:
            actor = auth.create_first_admin(s, f"admin{i}", PASSWORD)
            s.commit()
            return actor

    results = in_parallel(6, first_admin)
    refused = [r for r in results if isinstance(r, ConflictError)]
    assert len(refused) == 5, results
    with Session(engine) as s:
        assert len(s.exec(select(User)).all()) == 1


def test_every_refused_login_reads_the_same(session):
    add_user(session.get_bind())
    gone = add_user(session.get_bind(), "gone")
    auth.update_user(session, SYSTEM, gone, {"active": False}, expected_version=None)
    session.commit()
    unknown = auth.authenticate(session, "nobody", PASSWORD, at=FUTURE).message
    wrong = auth.authenticate(session, "clerk", "wrong password", at=FUTURE).message
    disabled_right = auth.authenticate(session, "gone", PASSWORD, at=FUTURE).message
    for _ in range(5):
        auth.authenticate(session, "clerk", "wrong password", at=FUTURE)
    locked_right = auth.authenticate(session, "clerk", PASSWORD, at=FUTURE).message
    session.commit()
    assert unknown == wrong == disabled_right == locked_right == auth.BAD_CREDENTIALS
    assert "clerk" not in locked_right and "锁定至" not in locked_right


@pytest.mark.parametrize(
    "password",
    ["1234567890", "password12", "aaaaaaaaaa", "qwertyuiop", "abcabcabcabc", "Admin@2024!!"],
)
def test_common_repeated_and_sequential_passwords_are_refused(session, password):
    with pytest.raises(ValidationError, match="密码："):
        auth.create_user(session, SYSTEM, "clerk", password, Role.CENTER)
    assert session.exec(select(User)).all() == []


def test_usernames_fold_case_in_any_script(session):
    auth.create_user(session, SYSTEM, "ärger1", PASSWORD, Role.CENTER)
    session.commit()
    for twin in ("ÄRGER1", "ＡＲＧＥＲ1".replace("Ａ", "Ä", 1)):
        with pytest.raises(ConflictError, match="已存在"):
            auth.create_user(session, SYSTEM, twin, PASSWORD, Role.CENTER)
    assert auth.authenticate(session, "ÄRGER1", PASSWORD, at=FUTURE).actor.username == "ärger1"

"""Backups (issue #8): "`python -m duban backup` makes a consistent copy of the SQLite database
while the app runs (SQLite online backup API) plus data/documents and data/uploads, into
data/backups/<timestamp>/, keeping the last N; the settings page offers the same button and
shows the last backup time; restoring is documented and tested (backup → damage → restore →
identical rows). For PostgreSQL, document pg_dump and back up the files."
"""

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, SQLModel, select

from duban import backup
from duban.cli import main
from duban.enums import AuditAction, Role
from duban.errors import PermissionDenied, ValidationError
from duban.models import AuditLog, Ticket, Unit
from duban.permissions import SYSTEM, Actor
from duban.settings import set_setting
from tests.factories import make_case, make_ticket, make_unit
from tests.helpers import open_page


@pytest.fixture
def sqlite_only(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("the database copy is SQLite's; PostgreSQL uses pg_dump (see test below)")
    return engine


@pytest.fixture
def ledger(session, data_dir):
    """Some rows in several tables, and files in documents/ and uploads/."""
    unit = make_unit(session, "镇城管中队")
    tickets = [make_ticket(session, content=f"诉求 {n}", unit_id=unit.id) for n in range(5)]
    make_case(session, unit, tickets=tuple(tickets[:2]))
    session.commit()
    (data_dir / "documents" / "2024").mkdir(parents=True)
    (data_dir / "documents" / "2024" / "督办单.docx").write_bytes(b"docx bytes")
    (data_dir / "uploads").mkdir()
    (data_dir / "uploads" / "ab12.pdf").write_bytes(b"%PDF-1.4 scan")
    return session


def snapshot(engine) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    rows = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
            result = conn.execute(text(f'SELECT * FROM "{table.name}" ORDER BY {order}'))
            rows[table.name] = [tuple(r) for r in result]
    return rows


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def run_backup(session, actor=SYSTEM, **kw) -> backup.BackupResult:
    result = backup.create_backup(session, actor, **kw)
    session.commit()
    return result


def test_a_backup_holds_the_database_the_files_and_a_manifest(sqlite_only, ledger, data_dir):
    result = run_backup(ledger)
    folder = result.backup.path
    assert folder.parent == data_dir / "backups"
    assert backup.NAME_PATTERN.fullmatch(folder.name)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"]["ticket"] == 5 and manifest["rows"]["case"] == 1
    assert manifest["files"] == 2
    copy = sqlite3.connect(folder / "duban.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    assert copy.execute("SELECT count(*) FROM ticket").fetchone()[0] == 5
    copy.close()
    assert files(folder / "documents") == files(data_dir / "documents")
    assert files(folder / "uploads") == files(data_dir / "uploads")


def test_a_backup_taken_while_another_writer_holds_a_transaction_is_consistent(
    sqlite_only, ledger, data_dir
):
    """The online backup copies the last committed state; the writer is not disturbed."""
    writer = sqlite3.connect(data_dir / "duban.db", timeout=1)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE ticket SET content = 'half-written' WHERE id = 1")
    writer.execute("DELETE FROM casecounter")
    result = backup.create_backup(ledger, SYSTEM)  # copies without waiting for the writer
    writer.commit()
    writer.close()
    ledger.commit()  # the audit row of the backup waits for the write lock like any write
    copy = sqlite3.connect(result.backup.path / "duban.db")
    assert copy.execute("SELECT content FROM ticket WHERE id = 1").fetchone()[0] == "诉求 0"
    copy.close()


def test_backup_damage_restore_gives_identical_rows_and_files(sqlite_only, ledger, data_dir):
    before = snapshot(sqlite_only)
    before_files = {name: files(data_dir / name) for name in backup.FILE_FOLDERS}
    taken = run_backup(ledger)

    # damage: rows deleted and changed, a document lost, a stray upload added
    with sqlite_only.begin() as conn:
        conn.execute(text("DELETE FROM caseticket"))
        conn.execute(text("DELETE FROM ticket WHERE id > 2"))
        conn.execute(text("UPDATE unit SET name = '被改坏的单位'"))
    (data_dir / "documents" / "2024" / "督办单.docx").unlink()
    (data_dir / "uploads" / "evil.exe").write_bytes(b"MZ")

    result = backup.restore_backup(sqlite_only, SYSTEM, taken.backup.path)

    after = snapshot(sqlite_only)
    assert {t: r for t, r in after.items() if t != "auditlog"} == {
        t: r for t, r in before.items() if t != "auditlog"
    }
    # the log keeps everything it had, plus the restore itself (the backup's own row was
    # written after the copy, so it is not in it)
    assert after["auditlog"][: len(before["auditlog"])] == before["auditlog"]
    with Session(sqlite_only) as s:
        last = s.exec(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert (last.action, last.new) == (AuditAction.RESTORE, str(taken.backup.path))
    assert {name: files(data_dir / name) for name in backup.FILE_FOLDERS} == before_files
    # nothing is lost by restoring either: the damaged state was backed up first
    safety = result.safety.path
    assert sqlite3.connect(safety / "duban.db").execute("SELECT name FROM unit").fetchone() == (
        "被改坏的单位",
    )
    assert (safety / "uploads" / "evil.exe").is_file()


def test_only_the_newest_backups_are_kept(sqlite_only, ledger, data_dir, monkeypatch):
    # all within one second: names get -2, -3 … and the newest must never be pruned
    monkeypatch.setattr(backup, "now", lambda: datetime(2024, 3, 4, 9, 0, 0))
    set_setting(ledger, SYSTEM, "backup_keep", 2)
    ledger.commit()
    made = [run_backup(ledger).backup.path for _ in range(3)]
    (data_dir / "backups" / "my-notes").mkdir()  # not a backup: never touched
    fourth = run_backup(ledger)
    assert fourth.pruned == [made[1]]
    assert [b.path for b in backup.list_backups()] == [fourth.backup.path, made[2]]
    assert fourth.backup.path.name == "20240304-090000-4"
    assert not made[0].exists() and (data_dir / "backups" / "my-notes").is_dir()


def test_every_backup_is_audited(sqlite_only, ledger):
    result = run_backup(ledger, note="月末备份")
    row = ledger.exec(select(AuditLog).where(AuditLog.action == AuditAction.BACKUP)).one()
    assert (row.entity, row.new, row.note) == ("backup", str(result.backup.path), "月末备份")


@pytest.mark.parametrize("role", [Role.CENTER, Role.UNIT, Role.LEADER])
def test_only_admins_back_up(session, role):
    with pytest.raises(PermissionDenied, match="无权备份数据"):
        backup.create_backup(session, Actor(None, "x", role))


def test_restore_refuses_a_folder_that_is_not_a_backup(sqlite_only, ledger, tmp_path):
    before = snapshot(sqlite_only)
    with pytest.raises(ValidationError, match="不是有效的备份目录"):
        backup.restore_backup(sqlite_only, SYSTEM, tmp_path)
    assert snapshot(sqlite_only) == before


def test_restore_refuses_a_corrupted_backup_and_changes_nothing(sqlite_only, ledger):
    taken = run_backup(ledger).backup.path
    (taken / "duban.db").write_bytes(b"this is not a database" * 100)
    before = snapshot(sqlite_only)
    with pytest.raises(ValidationError, match="duban.db 的校验值与清单不符"):
        backup.restore_backup(sqlite_only, SYSTEM, taken)
    assert snapshot(sqlite_only) == before


def test_postgresql_backups_hold_the_files_and_point_to_pg_dump(engine, ledger, data_dir):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (set DUBAN_TEST_DATABASE_URL)")
    result = run_backup(ledger)
    assert not result.backup.has_database
    assert "pg_dump" in result.backup.note
    assert result.backup.rows["ticket"] == 5
    assert files(result.backup.path / "uploads") == files(data_dir / "uploads")
    restored = backup.restore_backup(engine, SYSTEM, result.backup.path)
    assert not restored.database_restored


# --- command line -------------------------------------------------------------------------


def test_cli_backup_and_restore(sqlite_only, ledger, tmp_path, capsys):
    out = tmp_path / "usb-stick"
    assert main(["backup", "--out", str(out), "--keep", "3"]) == 0
    printed = capsys.readouterr().out
    folder = next(out.iterdir())
    assert f"备份完成：{folder}" in printed and "数据库：已包含" in printed
    with sqlite_only.begin() as conn:
        conn.execute(text("DELETE FROM caseticket"))
        conn.execute(text("DELETE FROM ticket WHERE id > 1"))
    assert main(["restore", str(folder), "--yes"]) == 0
    assert "已从" in capsys.readouterr().out
    with Session(sqlite_only) as s:
        assert len(s.exec(select(Ticket)).all()) == 5


def test_cli_restore_asks_for_confirmation(sqlite_only, ledger, monkeypatch, capsys):
    folder = run_backup(ledger).backup.path
    monkeypatch.setattr("builtins.input", lambda prompt="": "no")
    with sqlite_only.begin() as conn:
        conn.execute(text("UPDATE unit SET name = '改过的名字'"))
    assert main(["restore", str(folder)]) == 1
    assert "已取消" in capsys.readouterr().out
    with Session(sqlite_only) as s:
        assert s.exec(select(Unit.name)).all() == ["改过的名字"]


# --- settings page ------------------------------------------------------------------------


def test_the_settings_page_backs_up_and_shows_the_last_backup_time(sqlite_only, ledger):
    at = open_page(Actor(None, "admin", Role.ADMIN), "pages/settings.py")
    last = [m for m in at.metric if m.label == "上次备份"][0]
    assert last.value == "尚未备份"
    at.button(key="settings_backup_now").click().run()
    assert not at.exception, at.exception
    assert any("备份完成" in s.value for s in at.success)
    with Session(sqlite_only) as s:
        row = s.exec(select(AuditLog).where(AuditLog.action == AuditAction.BACKUP)).one()
    last = [m for m in at.metric if m.label == "上次备份"][0]
    assert last.value == f"{row.at:%Y-%m-%d %H:%M}"
    assert len(backup.list_backups()) == 1


def test_the_restored_database_opens_in_the_app(sqlite_only, ledger):
    taken = run_backup(ledger).backup.path
    backup.restore_backup(sqlite_only, SYSTEM, taken)
    with Session(sqlite_only) as s:
        assert s.exec(select(Unit.name)).all() == ["镇城管中队"]

# ruff: noqa: F811 - the fixtures imported from tests.test_backup are parameters here
"""A restore that cannot destroy data (issue #15): a crafted or incomplete backup is refused
before anything changes, and a swap that fails half-way puts database and files back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from duban import backup
from duban.errors import ValidationError
from duban.permissions import SYSTEM
from tests.test_backup import files, ledger, run_backup, snapshot, sqlite_only  # noqa: F401


def reseal(folder: Path) -> None:
    """What a careful attacker does: make the manifest's checksums fit the altered folder."""
    manifest = json.loads((folder / backup.MANIFEST).read_text(encoding="utf-8"))
    manifest["checksums"] = backup.folder_checksums(folder)
    (folder / backup.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def live_state(engine, data_dir: Path) -> tuple:
    return snapshot(engine), {name: files(data_dir / name) for name in backup.FILE_FOLDERS}


def unrelated_sqlite(path: Path) -> None:
    path.unlink()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('hello')")
    conn.commit()
    conn.close()


def drop_rows(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM caseticket")
    conn.commit()
    conn.close()


CRAFTED = {
    "zero-byte database": (lambda f: (f / "duban.db").write_bytes(b""), True, "结构版本"),
    "unrelated SQLite file": (lambda f: unrelated_sqlite(f / "duban.db"), True, "结构版本"),
    "rows removed": (lambda f: drop_rows(f / "duban.db"), True, "caseticket 有 0 行"),
    "no database file": (lambda f: (f / "duban.db").unlink(), True, "缺少数据库文件"),
    "no uploads folder": (lambda f: backup.shutil.rmtree(f / "uploads"), False, "缺少文件"),
    "no uploads, resealed": (lambda f: backup.shutil.rmtree(f / "uploads"), True, "文件数"),
    "a planted file": (lambda f: (f / "uploads" / "x.exe").write_bytes(b"MZ"), False, "未登记"),
    "no checksums": (lambda f: None, None, "没有校验值"),
}


@pytest.mark.parametrize("attack", sorted(CRAFTED))
def test_a_crafted_backup_is_refused_before_anything_changes(sqlite_only, ledger, data_dir, attack):
    folder = run_backup(ledger).backup.path
    alter, resealed, message = CRAFTED[attack]
    alter(folder)
    if resealed:
        reseal(folder)
    elif resealed is None:
        manifest = json.loads((folder / backup.MANIFEST).read_text(encoding="utf-8"))
        del manifest["checksums"]
        (folder / backup.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    before = live_state(sqlite_only, data_dir)
    backups_before = sorted((data_dir / "backups").iterdir())
    with pytest.raises(ValidationError, match=message):
        backup.restore_backup(sqlite_only, SYSTEM, folder)
    assert live_state(sqlite_only, data_dir) == before
    assert sorted((data_dir / "backups").iterdir()) == backups_before
    assert not list(data_dir.glob(".restore-*"))


def test_a_swap_that_fails_half_way_puts_database_and_files_back(
    sqlite_only,
    ledger,
    data_dir,
    monkeypatch,
):
    folder = run_backup(ledger).backup.path
    (data_dir / "uploads" / "newer.pdf").write_bytes(b"%PDF-1.4 newer scan")
    before_rows, before_files = live_state(sqlite_only, data_dir)

    def disk_full(_source: Path, _live: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup, "_copy_into", disk_full)
    with pytest.raises(OSError, match="No space"):
        backup.restore_backup(sqlite_only, SYSTEM, folder)
    after_rows, after_files = live_state(sqlite_only, data_dir)
    assert after_files == before_files
    assert {t: r for t, r in after_rows.items() if t != "auditlog"} == {
        t: r for t, r in before_rows.items() if t != "auditlog"
    }
    assert not list(data_dir.glob(".restore-*"))

"""Backups and restore: nothing the office has recorded is ever lost.

A backup is a folder `data/backups/<YYYYmmdd-HHMMSS>/` holding
- `duban.db`: a consistent copy of the SQLite database taken with SQLite's online backup
  API, so it is safe while the app is running and writing (a plain file copy is not);
- `documents/` and `uploads/`: copies of the rendered documents and stored uploads;
- `manifest.json`: when, from which database, the schema revision, each table's row count
  and the sha256 of every file in the folder.

A restore checks all of that before it touches anything (issue #15), stages the database
(migrated to the current schema) and the files beside the live ones, and swaps them in only
when every check has passed; if any step of the swap fails, database and files are put back
as they were.

Only the newest `backup_keep` (a setting) backup folders are kept. With PostgreSQL the
database is backed up with `pg_dump` (docs/DEPLOY.md); the folder then holds the files and
the row counts to check a restored dump against.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, func, inspect, select
from sqlalchemy.exc import DatabaseError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel

from duban import audit, config
from duban.clock import now
from duban.db import alembic_config, current_revision, upgrade
from duban.enums import AuditAction
from duban.errors import ValidationError
from duban.permissions import Actor, Perm
from duban.settings import get_setting

MANIFEST = "manifest.json"
DATABASE_FILE = "duban.db"
FILE_FOLDERS = ("documents", "uploads")
NAME_FORMAT = "%Y%m%d-%H%M%S"
NAME_PATTERN = re.compile(r"\d{8}-\d{6}(-\d+)?")
PG_HINT = "PostgreSQL 数据库请用 pg_dump 备份（见 docs/DEPLOY.md），本备份只包含文书与上传文件"


@dataclass(frozen=True)
class BackupInfo:
    """One backup folder as its manifest describes it."""

    path: Path
    created_at: datetime
    database: str  # "sqlite" or "postgresql"
    files: int
    rows: dict[str, int] = field(default_factory=dict)
    note: str = ""
    schema_revision: str | None = None
    checksums: dict[str, str] = field(default_factory=dict)  # relative path → sha256

    @property
    def has_database(self) -> bool:
        return (self.path / DATABASE_FILE).is_file()


@dataclass(frozen=True)
class BackupResult:
    backup: BackupInfo
    pruned: list[Path]


def backups_root() -> Path:
    return config.data_dir() / "backups"


def sqlite_path(engine: Engine) -> Path | None:
    """The database file of a SQLite engine, None for other databases."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    return Path(engine.url.database).resolve()


def _suffix(name: str) -> int:
    """The `-N` of a second backup within the same second (1 for the first)."""
    base, _, n = name[len("YYYYmmdd-HHMMSS") :].partition("-")
    return int(n) if n.isdigit() and not base else 1


def _new_folder(root: Path, at: datetime) -> Path:
    """A fresh `<timestamp>` folder; more backups in the same second get `-2`, `-3` …, always
    numbered above the ones already there, so the newest sorts last even after pruning."""
    root.mkdir(parents=True, exist_ok=True)
    base = at.strftime(NAME_FORMAT)
    taken = [_suffix(p.name) for p in root.glob(f"{base}*") if NAME_PATTERN.fullmatch(p.name)]
    n = max(taken, default=0) + 1
    path = root / (base if n == 1 else f"{base}-{n}")
    path.mkdir()
    return path


def copy_sqlite(source: Path, target: Path) -> str:
    """Copy a live SQLite database with the online backup API; returns its integrity check.

    The copy is one read transaction, so it is consistent even while other connections
    write; it is switched to a rollback journal so the backup is one self-contained file.
    """
    src = sqlite3.connect(str(source), timeout=30)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        return dst.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        dst.close()
        src.close()


def _copy_files(target: Path) -> int:
    count = 0
    for name in FILE_FOLDERS:
        folder = config.data_dir() / name
        if folder.is_dir():
            shutil.copytree(folder, target / name)
            count += sum(1 for p in (target / name).rglob("*") if p.is_file())
    return count


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def backup_files(folder: Path) -> list[str]:
    """The database file and every file under documents/ and uploads/, relative, sorted."""
    names = []
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and (name == DATABASE_FILE or name.split("/")[0] in FILE_FOLDERS):
            names.append(name)
    return names


def folder_checksums(folder: Path) -> dict[str, str]:
    """sha256 of each of `backup_files(folder)` (written to the manifest)."""
    return {name: sha256_file(folder / name) for name in backup_files(folder)}


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, written to the manifest to check a restore against."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            counts[table.name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return counts


def create_backup(
    session: Session,
    actor: Actor,
    *,
    out: Path | None = None,
    keep: int | None = None,
    note: str = "",
) -> BackupResult:
    """Back up the database (SQLite) and the files; audited; older backups beyond `keep` go.

    The caller commits the audit row (it lands after the copy, so it is not in the copy).
    """
    actor.require(Perm.BACKUP)
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    root = Path(out).resolve() if out else backups_root()
    keep = int(keep if keep is not None else get_setting(session, "backup_keep"))
    if keep < 1:
        raise ValidationError("保留备份份数：至少为 1")
    at = now()
    target = _new_folder(root, at)
    try:
        db_file = sqlite_path(engine)
        if db_file is not None:
            check = copy_sqlite(db_file, target / DATABASE_FILE)
            if check != "ok":
                raise ValidationError(f"数据库完整性检查未通过（{check}），备份未完成")
            counts = row_counts(_file_engine(target / DATABASE_FILE))
        else:
            counts = row_counts(engine)
        files = _copy_files(target)
        checksums = folder_checksums(target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    info = BackupInfo(
        path=target,
        created_at=at,
        database=engine.dialect.name,
        files=files,
        rows=counts,
        note=note if db_file is not None else " ".join(filter(None, [note, PG_HINT])),
        schema_revision=current_revision(engine),
        checksums=checksums,
    )
    _write_manifest(info, engine)
    audit.record(
        session,
        actor,
        AuditAction.BACKUP,
        "backup",
        field="path",
        new=str(target),
        note=info.note,
    )
    return BackupResult(backup=info, pruned=prune(root, keep))


def _file_engine(path: Path) -> Engine:
    """A throw-away engine on a backup file (no pooled connection keeps it open)."""
    return create_engine(f"sqlite:///{path}", poolclass=NullPool)


def _write_manifest(info: BackupInfo, engine: Engine) -> None:
    manifest = {
        "created_at": info.created_at.isoformat(sep=" "),
        "database": info.database,
        "database_url": engine.url.render_as_string(hide_password=True),
        "schema_revision": info.schema_revision,
        "files": info.files,
        "rows": info.rows,
        "note": info.note,
        "checksums": info.checksums,
    }
    (info.path / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
    )


def read_backup(path: Path) -> BackupInfo:
    """A backup folder's manifest, or a Chinese message saying why the folder is not one."""
    manifest = Path(path) / MANIFEST
    if not manifest.is_file():
        raise ValidationError(f"{path} 不是有效的备份目录（缺少 {MANIFEST}）")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return BackupInfo(
            path=Path(path).resolve(),
            created_at=datetime.fromisoformat(data["created_at"]),
            database=data["database"],
            files=int(data.get("files", 0)),
            rows={k: int(v) for k, v in data.get("rows", {}).items()},
            note=data.get("note", ""),
            schema_revision=data.get("schema_revision"),
            checksums={str(k): str(v) for k, v in data.get("checksums", {}).items()},
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(f"备份目录 {path} 的 {MANIFEST} 已损坏：{exc}") from exc


def list_backups(root: Path | None = None) -> list[BackupInfo]:
    """The backup folders under `root` (default data/backups), newest first."""
    root = root or backups_root()
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        if path.is_dir() and NAME_PATTERN.fullmatch(path.name) and (path / MANIFEST).is_file():
            try:
                found.append(read_backup(path))
            except ValidationError:
                continue
    return sorted(found, key=lambda b: (b.created_at, _suffix(b.path.name)), reverse=True)


def prune(root: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backup folders (only folders this module made)."""
    old = list_backups(root)[keep:]
    for info in old:
        shutil.rmtree(info.path)
    return [info.path for info in old]


@dataclass(frozen=True)
class RestoreResult:
    restored: BackupInfo
    safety: BackupInfo  # the state just before the restore, itself a backup
    database_restored: bool


def restore_backup(engine: Engine, actor: Actor, source: Path) -> RestoreResult:
    """Put a backup back: the database (SQLite) and the documents and uploads folders.

    Everything is checked before anything changes (`_stage`): the manifest's checksums,
    the database file's integrity, schema revision, tables and row counts. Then the current
    state is itself backed up (so a restore loses nothing either) and the staged copies are
    swapped in (`_swap`), which undoes itself if any part fails. With PostgreSQL only the
    files are restored; the database comes back with `pg_restore` (docs/DEPLOY.md). Best
    run with the app stopped.
    """
    actor.require(Perm.BACKUP, "恢复数据")
    info = read_backup(source)
    live = sqlite_path(engine)
    staging = config.data_dir() / f".restore-{now():%Y%m%d-%H%M%S-%f}"
    staging.mkdir(parents=True)
    try:
        _stage(info, engine.dialect.name, staging)
        with Session(engine) as session:
            safety = create_backup(
                session, actor, keep=10**6, note=f"恢复 {info.path.name} 之前的自动备份"
            )
            session.commit()
        engine.dispose()
        _swap(staging, live)
        with Session(engine) as session:
            audit.record(
                session,
                actor,
                AuditAction.RESTORE,
                "backup",
                field="path",
                old=str(safety.backup.path),
                new=str(info.path),
                note="已从备份恢复"
                + ("" if info.has_database else "文件（数据库请用 pg_restore 恢复）"),
            )
            session.commit()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RestoreResult(restored=info, safety=safety.backup, database_restored=info.has_database)


def _refuse(problem: str) -> ValidationError:
    return ValidationError(f"备份不能恢复：{problem}，未作任何改动")


def _stage(info: BackupInfo, live_dialect: str, staging: Path) -> None:
    """Copy the backup into `staging` and check every part of the copy (not the original,
    which could change after the check); raises ValidationError naming the first problem."""
    if info.database != live_dialect:
        raise _refuse(f"备份来自 {info.database} 数据库，而当前数据库是 {live_dialect}")
    if not info.checksums:
        raise _refuse("manifest.json 中没有校验值（旧版本或被改动的备份）")
    extra = sorted(set(backup_files(info.path)) - set(info.checksums))
    if extra:
        raise _refuse(f"备份中有清单未登记的文件 {extra[0]}")
    listed = sum(1 for name in info.checksums if name != DATABASE_FILE)
    if listed != info.files:
        raise _refuse(f"清单登记了 {listed} 个文件的校验值，但记录的文件数为 {info.files}")
    for name in FILE_FOLDERS:
        if (info.path / name).is_dir():
            shutil.copytree(info.path / name, staging / name)
        else:
            (staging / name).mkdir()
    if info.database == "sqlite":
        if DATABASE_FILE not in info.checksums or not info.has_database:
            raise _refuse(f"缺少数据库文件 {DATABASE_FILE}")
        shutil.copyfile(info.path / DATABASE_FILE, staging / DATABASE_FILE)
    for name, digest in info.checksums.items():
        copy = staging / name
        if not copy.is_file():
            raise _refuse(f"缺少文件 {name}")
        if sha256_file(copy) != digest:
            raise _refuse(f"文件 {name} 的校验值与清单不符（已损坏或被改动）")
    if info.database == "sqlite":
        _check_database(info, staging / DATABASE_FILE)


def _check_database(info: BackupInfo, path: Path) -> None:
    """Integrity, a schema revision this code knows, the manifest's row counts; then the
    copy is migrated to the current schema and must hold every table the app expects."""
    check = _integrity(path)
    if check != "ok":
        raise _refuse(f"数据库完整性检查未通过（{check}）")
    copy = _file_engine(path)
    try:
        try:
            revision = current_revision(copy)
            tables = set(inspect(copy).get_table_names())
        except DatabaseError as exc:
            raise _refuse(f"数据库文件无法读取（{exc.orig}）") from exc
        if revision is None or revision != info.schema_revision:
            raise _refuse(f"数据库的结构版本（{revision or '无'}）与清单不符")
        try:
            ScriptDirectory.from_config(alembic_config()).get_revision(revision)
        except CommandError as exc:
            raise _refuse(f"数据库的结构版本 {revision} 不属于本程序") from exc
        missing = sorted(set(info.rows) - tables)
        if missing or not info.rows:
            raise _refuse(f"数据库缺少数据表 {'、'.join(missing) or '（清单无表）'}")
        with copy.connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                if table.name in info.rows:
                    found = conn.execute(select(func.count()).select_from(table)).scalar_one()
                    if found != info.rows[table.name]:
                        raise _refuse(
                            f"数据表 {table.name} 有 {found} 行，清单记录为 {info.rows[table.name]} 行"
                        )
        upgrade(copy)
        missing = sorted({t.name for t in SQLModel.metadata.sorted_tables}
                         - set(inspect(copy).get_table_names()))  # fmt: skip
        if missing:
            raise _refuse(f"升级后的数据库缺少数据表 {'、'.join(missing)}")
    finally:
        copy.dispose()


def _swap(staging: Path, live_db: Path | None) -> None:
    """Move the staged folders in (renames on one file system) and copy the staged database
    over the live one in one SQLite transaction; on any failure put everything back."""
    moved: list[str] = []
    data = config.data_dir()
    try:
        for name in FILE_FOLDERS:
            if (data / name).exists():
                os.replace(data / name, staging / f"old-{name}")
            moved.append(name)
            os.replace(staging / name, data / name)
        if live_db is not None:
            _copy_into(staging / DATABASE_FILE, live_db)
    except BaseException:
        for name in reversed(moved):
            if (data / name).exists():
                shutil.rmtree(data / name)
            if (staging / f"old-{name}").exists():
                os.replace(staging / f"old-{name}", data / name)
        raise


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.close()


def _copy_into(backup_file: Path, live: Path) -> None:
    """Overwrite the live database's content page by page, under SQLite's own locks."""
    src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    dst = sqlite3.connect(str(live), timeout=30)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()

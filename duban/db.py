"""The database engine: built once per process from `DUBAN_DATABASE_URL`, migrated on start.

Every failure to reach or open the database becomes a `ConfigError` whose one-line Chinese
message names the cause and the setting to change, so no page ever shows a traceback.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from duban import config
from duban.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SUPPORTED = "sqlite:///路径 或 postgresql+psycopg://用户@主机:端口/库名"
# A writer waits this long for another's transaction: above the write phase of the biggest
# import (250,000 rows: ~15 s on an idle 2-core machine, tests/test_security_busy.py checks the
# margin), so a save during an import waits and succeeds instead of "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 90_000


def normalize_url(url: str) -> str:
    """Accept the common PostgreSQL spellings and point them at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str | None = None) -> Engine:
    """Create an engine (not yet connected); raises ConfigError for a URL we cannot use."""
    url = normalize_url(url or config.database_url())
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"数据库地址格式错误：{url!r}，请检查 DUBAN_DATABASE_URL（{SUPPORTED}）"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, parsed.database)
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise ConfigError(
                f"不支持的 PostgreSQL 驱动 {parsed.drivername}，请在 DUBAN_DATABASE_URL 中使用 postgresql+psycopg://"
            )
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ConfigError(
        f"不支持的数据库类型 {parsed.drivername!r}，请检查 DUBAN_DATABASE_URL（{SUPPORTED}）"
    )


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        folder = Path(database).resolve().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"无法创建数据目录 {folder}：{exc.strerror}，请检查 DUBAN_DATA_DIR"
            ) from exc
        if not _writable(folder):
            raise ConfigError(
                f"数据目录 {folder} 不可写，请检查 DUBAN_DATA_DIR 的权限或改用其他目录"
            )
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_timeout=SQLITE_BUSY_TIMEOUT_MS
        / 1000,  # a thread waiting for a writer holds its connection
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI connection
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return engine


def _writable(folder: Path) -> bool:
    probe = folder / ".duban-write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


def alembic_config() -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    return cfg


# The newest migration (tests/test_migrations.py holds it equal to Alembic's head). A database
# already there skips loading the migration scripts: 0.5 s of every start of the app and CLI.
SCHEMA_HEAD = "5ca904d0051b"


def upgrade(engine: Engine) -> None:
    """Create or migrate the schema to the newest revision (Alembic alone creates tables)."""
    try:
        if current_revision(engine) == SCHEMA_HEAD:
            return
    except DatabaseError as exc:
        raise describe_db_error(exc, engine) from exc
    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except DatabaseError as exc:
        raise describe_db_error(exc, engine) from exc


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def describe_db_error(exc: Exception, engine: Engine) -> ConfigError:
    """Turn a driver error at start-up into a one-line Chinese message naming the setting."""
    text = str(getattr(exc, "orig", exc))
    where = engine.url.render_as_string(hide_password=True)
    if engine.dialect.name == "sqlite":
        if "file is not a database" in text or "malformed" in text:
            return ConfigError(
                f"数据库文件 {engine.url.database} 不是有效的 SQLite 数据库，请检查 DUBAN_DATABASE_URL 或 DUBAN_DATA_DIR"
            )
        if "readonly" in text or "unable to open" in text:
            return ConfigError(
                f"无法写入数据库文件 {engine.url.database}（只读或无权限），请检查 DUBAN_DATA_DIR 的权限"
            )
        return ConfigError(
            f"无法打开数据库 {where}：{text.splitlines()[0]}，请检查 DUBAN_DATABASE_URL"
        )
    if isinstance(exc, OperationalError):
        return ConfigError(
            f"无法连接数据库 {where}：{text.splitlines()[0] if text else '连接失败'}，请检查 DUBAN_DATABASE_URL 与数据库服务是否已启动"
        )
    return ConfigError(
        f"数据库 {where} 出错：{text.splitlines()[0] if text else exc}，请检查 DUBAN_DATABASE_URL"
    )


def refresh_statistics(engine: Engine) -> None:
    """Give the query planner fresh table statistics (cheap: SQLite samples each index).

    Without them SQLite picks poor indexes for the board queries once tables are large
    (seen: 1.8 s instead of 75 ms for the escalation board on 100k tickets). Run at start
    and after bulk imports; PostgreSQL's autovacuum does the same, ANALYZE just hurries it.
    """
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")
    except OperationalError:
        pass  # another writer holds the lock: statistics can wait, the start must not fail


def open_database(url: str | None = None) -> Engine:
    """The start-up path of the app and the CLI: engine, migrated to head, statistics fresh."""
    engine = make_engine(url)
    upgrade(engine)
    if engine.dialect.name == "sqlite":  # PostgreSQL's autovacuum keeps its own statistics
        refresh_statistics(engine)
    return engine

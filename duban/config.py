"""Where the runtime files and the database are: read from the environment, once per call.

The app and the CLI read the same two variables, so both always see the same data:
`DUBAN_DATA_DIR` (default ./data) and `DUBAN_DATABASE_URL` (default SQLite in that folder).
"""

import os
from pathlib import Path


def data_dir() -> Path:
    """The runtime folder (database, documents, uploads, backups, logs)."""
    return Path(os.environ.get("DUBAN_DATA_DIR") or "data").resolve()


def database_url() -> str:
    url = os.environ.get("DUBAN_DATABASE_URL", "").strip()
    return url or f"sqlite:///{data_dir() / 'duban.db'}"


def data_path(*parts: str) -> Path:
    """A path inside the data folder, its parent created on demand."""
    path = data_dir().joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path

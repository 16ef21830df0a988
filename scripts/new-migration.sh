#!/usr/bin/env bash
# Write a new Alembic revision for the changes in duban/models.py.
# Usage: scripts/new-migration.sh "add ticket title"
# It upgrades a throw-away SQLite database to the current head, then autogenerates the
# difference against the models, so your own data is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export DUBAN_DATA_DIR="$tmp" DUBAN_DATABASE_URL="sqlite:///$tmp/migrate.db"
python -m alembic upgrade head
python -m alembic revision --autogenerate -m "${1:?usage: scripts/new-migration.sh MESSAGE}"
ruff format migrations/versions >/dev/null

#!/usr/bin/env bash
# Quick start, command two: every check the project has.
#   lint (ruff, sqlfluff), dbt build with all dbt tests into a scratch database, pytest.
source "$(dirname "$0")/env.sh"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

echo "==> ruff"
ruff check .
ruff format --check .

echo "==> sqlfluff"
sqlfluff lint models macros analyses tests/dbt

echo "==> dbt build (bundled data, all dbt tests)"
CUSTOMER_ANALYTICS_DB="$scratch/check.duckdb" dbt build --target ci

echo "==> pytest"
pytest "$@"

# Sourced by build.sh and check.sh: create .venv with the pinned project once, then activate it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
# Re-install only when pyproject.toml changed since the last install.
stamp=.venv/.installed-pyproject
if [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
    echo "==> installing the project and its pinned dependencies"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    cp pyproject.toml "$stamp"
fi
# shellcheck disable=SC1091
source .venv/bin/activate
export DBT_PROFILES_DIR="$PWD"

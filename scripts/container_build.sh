#!/bin/sh
# Installs Plaudit the way its container image does: a virtualenv at VENV with the locked
# dependencies (hashes checked, nothing resolved) and the wheel built from SOURCE. The
# Dockerfile runs this script; CI runs it into a clean virtualenv (scripts/smoke_wheel.py).
# Usage: scripts/container_build.sh SOURCE VENV   (PYTHON: the interpreter, default python3)
set -eu
usage="usage: container_build.sh SOURCE VENV"
source_dir=$(cd "${1:?$usage}" && pwd)
venv=${2:?$usage}
python=${PYTHON:-python3}
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT

pip() {
    "$venv/bin/python" -m pip --disable-pip-version-check --no-cache-dir --quiet "$@"
}

echo "==> virtualenv at $venv ($("$python" --version))"
"$python" -m venv "$venv"
echo "==> locked dependencies (requirements.lock, hashes checked)"
pip install --require-hashes --no-deps --only-binary=:all: -r "$source_dir/requirements.lock"
echo "==> Plaudit's wheel"
PYTHON="$venv/bin/python" sh "$source_dir/scripts/build_wheel.sh" "$source_dir" "$wheels" >/dev/null
pip install --no-deps "$wheels"/plaudit-*.whl
# Fails when pyproject.toml names a dependency the lock does not hold: run `make lock`.
"$venv/bin/python" -m pip --disable-pip-version-check check
"$venv/bin/plaudit" --version

#!/bin/sh
# Builds Plaudit's wheel from a clean copy of SOURCE into OUTDIR (the copy leaves out what is
# not shipped, so stale build/ output or local virtualenvs never reach the wheel).
# Usage: scripts/build_wheel.sh SOURCE OUTDIR   (PYTHON: the interpreter, default python3)
set -eu
usage="usage: build_wheel.sh SOURCE OUTDIR"
source_dir=$(cd "${1:?$usage}" && pwd)
mkdir -p "${2:?$usage}"
out_dir=$(cd "$2" && pwd)
python=${PYTHON:-python3}
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT

tar -C "$source_dir" \
    --exclude=./.git --exclude='./.venv*' --exclude=./build --exclude=./dist \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude='./.*_cache' \
    --exclude=./tests --exclude=./bench --exclude='*.db' --exclude=./.env \
    -cf - . | tar -C "$copy" -xf -
"$python" -m pip --disable-pip-version-check wheel --quiet --no-cache-dir --no-deps \
    --wheel-dir "$out_dir" "$copy"
ls "$out_dir"/plaudit-*.whl

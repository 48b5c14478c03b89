#!/usr/bin/env bash
# The installed tool, as an analyst gets it: build the wheel from a copy of the source
# (the work tree stays clean), install it in a fresh venv, then from an empty folder:
# init a workspace, synth a small county, prepare every wave, batch one township.
# Called by .ci/run after `make test`. PYTHON picks the interpreter (default python3).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
SECONDS=0
step() { echo "check_wheel: [${SECONDS}s] $*"; }

step "copy the source"
mkdir "$TMP/src-tree"
( cd "$ROOT" && cp -r pyproject.toml setup.py MANIFEST.in README.md LICENSE src notebooks \
    "$TMP/src-tree/" && mkdir -p "$TMP/src-tree/data/raw" \
    && cp data/raw/README.md "$TMP/src-tree/data/raw/" )
find "$TMP/src-tree/src" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +

step "build the wheel"
"$PYTHON" -m pip wheel --no-deps -q -w "$TMP/dist" "$TMP/src-tree"
WHEEL="$(ls "$TMP"/dist/pingan_eval-*.whl)"
"$PYTHON" - "$WHEEL" "$ROOT/notebooks" <<'PY'
import sys, zipfile, pathlib
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
wanted = {f"pingan_eval/notebooks/{p.name}" for p in pathlib.Path(sys.argv[2]).glob("*.ipynb")}
wanted |= {"pingan_eval/templates/raw_README.md", "pingan_eval/report/assets/report.css"}
missing = sorted(wanted - names)
sys.exit(f"check_wheel: the wheel lacks {missing}" if missing else 0)
PY

step "install it in a fresh venv"
"$PYTHON" -m venv "$TMP/venv"
VBIN="$TMP/venv/bin"
# the dependencies come from the index (or pip's cache); PIP_FIND_LINKS etc. are honoured
"$VBIN/python" -m pip install -q "$WHEEL"
CLI="$VBIN/pingan-eval"
"$CLI" --version

step "init, synth, prepare, batch from an empty folder"
mkdir "$TMP/empty"
cd "$TMP/empty"
"$CLI" init ws
cd ws
test -s plan.toml && test -s data/raw/README.md
if [ -f "$ROOT/src/pingan_eval/data/templates/columns.toml" ]; then
    test -s data/raw/columns.toml.template
fi
"$CLI" synth --townships 2 --periods 2
grep -q '^townships = \["青河镇", "塔克什肯镇"\]$' plan.toml
test -s data/raw/README.md   # kept through synth's replacing the folder
"$CLI" prepare --period all
"$CLI" batch --period 2026-11 --townships 青河镇 --jobs 2
test -s reports/2026-11/青河镇.html && test -s reports/2026-11/county.html \
    && test -s reports/2026-11/index.html
# nothing was written into the installed package (the bug of old: <venv>/lib/python3.X/data)
for d in "$TMP"/venv/lib/python3*; do
    test ! -e "$d/data" && test ! -e "$d/reports" && test ! -e "$d/notebooks"
done
# outside a workspace a command says so instead of writing somewhere
cd "$TMP/empty"
if "$CLI" prepare --period all 2> "$TMP/err"; then
    echo "check_wheel: prepare outside a workspace should fail" >&2; exit 1
fi
grep -q "not in a pingan-eval workspace" "$TMP/err"
cd ws
# provenance: no git checkout, so the package version
grep -q "pingan-eval 0" reports/2026-11/青河镇.html
step "ok"

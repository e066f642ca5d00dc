#!/usr/bin/env bash
# Regenerates tests/fixtures/mir_eval.json with mir_eval itself, in a venv of its own.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q "mir_eval==0.8.2" "numpy<3" "scipy"
"$venv/bin/python" "$here/make_fixture.py" "${SHARED:-$root/../shared}" "$root/tests/fixtures/mir_eval.json"

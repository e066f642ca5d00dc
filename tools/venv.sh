# Sourced by the tools' run.sh scripts: ensure_venv DIR REQUIREMENT... makes a venv at DIR (if there is none)
# with these packages from PyPI. pip runs once per set of requirements (a stamp in the venv), not on every step.
ensure_venv() {
  local venv="$1"
  shift
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  if [ "$(cat "$venv/.pianoscribe-requirements" 2>/dev/null)" != "$*" ]; then
    "$venv/bin/pip" install -q "$@"
    echo "$*" > "$venv/.pianoscribe-requirements"
  fi
}

"""The repository's Python tools as one package, so that they import each other by name (`from tools import
pscb`, `from tools.oaf import network`) instead of reaching sibling folders through sys.path. Run them from
the repository root as modules (`python -m tools.oaf.export ...`), or with the root on PYTHONPATH as the
run.sh scripts do."""

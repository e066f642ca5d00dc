"""What the training tools' tests share."""
import importlib
import os


def missing(test, why):
    """Skips `test` for a dependency this Python lacks (Debian's python3 runs these tests without the training
    venv's packages), unless PIANOSCRIBE_TEST_DEPS=required says that every dependency must be here (build.sh
    runs the tests again in the training venv so, where a skip would hide a test that never runs)."""
    if os.environ.get("PIANOSCRIBE_TEST_DEPS") == "required":
        test.fail(f"{why}, and PIANOSCRIBE_TEST_DEPS=required")
    test.skipTest(why)


def requires(test, *modules, why=""):
    """`missing` unless every one of `modules` imports: a test's check for the packages it needs."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as e:
            missing(test, f"{why or test.id()} needs {', '.join(modules)} ({e})")

"""The CI policy of tests/conftest.py: with ODAPI_TUNER_CI=1 a skipped test fails.

Each case runs a tiny inner pytest session (pytester) whose conftest is the project's real
``tests/conftest.py``, so the hook under test is exactly the one CI uses.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parent / "conftest.py"

INNER_TESTS = """
import pytest

def test_needs_the_stack():
    pytest.skip("the OD API stack is not installed; run `make setup`")

@pytest.mark.skip(reason="marked skip")
def test_marked_skip():
    pass

@pytest.mark.xfail(reason="known bug", strict=False)
def test_known_bug():
    assert False

def test_passes():
    pass
"""


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_inner=INNER_TESTS)
    return pytester


def test_in_ci_a_skip_is_a_failure_with_the_reason(inner: pytest.Pytester,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODAPI_TUNER_CI", "1")
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    # A skip in the test body fails it; a skip during setup (a skip marker, or a fixture such as
    # `odapi` that skips) turns the setup into a failure, which pytest reports as an error.
    # Either way the run fails: nothing vanishes silently.
    result.assert_outcomes(passed=1, failed=1, errors=1, xfailed=1)
    result.stdout.fnmatch_lines([  # pytest prints ERRORS before FAILURES
        "*ERROR at setup of test_marked_skip*",
        "skipped in CI, which must run every test (ODAPI_TUNER_CI=1): Skipped: marked skip",
        "*test_needs_the_stack*",
        "skipped in CI, which must run every test (ODAPI_TUNER_CI=1): "
        "Skipped: the OD API stack is not installed; run `make setup`",
    ])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("value", [None, "0", ""])
def test_outside_ci_a_skip_stays_a_skip(inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                        value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("ODAPI_TUNER_CI", raising=False)
    else:
        monkeypatch.setenv("ODAPI_TUNER_CI", value)
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
    result.stdout.fnmatch_lines(["*the OD API stack is not installed; run `make setup`*"])
    assert "skipped in CI" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.OK

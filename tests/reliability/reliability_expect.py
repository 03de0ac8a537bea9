"""The expected outcomes of the reliability cases (issue 13) and the one check that runs them.

Every case in ``tests/reliability/test_*.py`` is an input mutation or a fault with exactly one
expected outcome:

* :func:`error`: the call raises, and the message matches a pattern that names the file or
  key and says what to do (never a bare traceback from a library);
* :func:`conversion`: the call succeeds and logs (WARNING or INFO) a record matching the
  pattern, saying what was converted; the caller then asserts the converted values;
* :func:`skip`: the call succeeds, drops the offending part and logs a WARNING matching
  the pattern (a counted skip);
* :func:`ok`: a genuine input, read without any warning.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pytest

Kind = Literal["error", "conversion", "skip", "ok"]


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    pattern: str = ""
    exc: type[BaseException] = Exception

    def __str__(self) -> str:  # shows in the test id's failure message
        return f"{self.kind}({self.pattern!r})"


def error(pattern: str, exc: type[BaseException] = Exception) -> Outcome:
    return Outcome("error", pattern, exc)


def conversion(pattern: str) -> Outcome:
    return Outcome("conversion", pattern)


def skip(pattern: str) -> Outcome:
    return Outcome("skip", pattern)


def ok() -> Outcome:
    return Outcome("ok")


def check(outcome: Outcome, call: Callable[[], Any], caplog: pytest.LogCaptureFixture) -> Any:
    """Run ``call`` and assert ``outcome``; returns the call's result (None after an error)."""
    caplog.set_level(logging.INFO)
    if outcome.kind == "error":
        with pytest.raises(outcome.exc) as info:
            call()
        message = str(info.value)
        assert re.search(outcome.pattern, message, re.S), (
            f"error message does not match {outcome.pattern!r}:\n{message}"
        )
        return None
    result = call()
    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    warnings = [r for r in records if r.levelno >= logging.WARNING]
    if outcome.kind == "ok":
        assert not warnings, f"unexpected warnings: {[r.getMessage() for r in warnings]}"
        return result
    pool = warnings if outcome.kind == "skip" else records
    texts = [r.getMessage() for r in pool]
    assert any(re.search(outcome.pattern, t, re.S) for t in texts), (
        f"no {'warning' if outcome.kind == 'skip' else 'log record'} matches "
        f"{outcome.pattern!r}; got {texts}"
    )
    return result

"""How every command turns a user's mistake into one line: shared by the app and its sub-apps.

A library error caused by the input (``AuditError``) becomes one line on stderr and exit code 1;
with ``--debug`` (or FAIRNESS_AUDIT_DEBUG=1) it keeps its traceback. Any other exception is a
bug and is never caught.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

import typer

from fairness_audit.errors import AuditError, ValidationFailed
from fairness_audit.progress import live_line

DEBUG_ENV = "FAIRNESS_AUDIT_DEBUG"
# --quiet/-q of every command that does long work
Quiet = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress display or lines; the paths written (and the verdicts) "
                          "still print.")]
# set for each run by the app's --debug option (or FAIRNESS_AUDIT_DEBUG=1)
_debug = False


def set_debug(debug: bool) -> None:
    global _debug
    _debug = debug


def say(message: str) -> None:
    """Print one line on stderr, above the live progress display while one is showing (so the
    display is not drawn through it); never silenced by ``--quiet``."""
    if not live_line(message):
        typer.echo(message, err=True)


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors caused by the input into one line and exit code 1 (with --debug,
    let them through with their traceback). Any other exception is a bug and is never caught."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AuditError as exc:
            if _debug:
                raise
            if isinstance(exc, ValidationFailed):
                what = ("judge-workload file" if exc.path.endswith(".judge_completions.parquet")
                        else "decisions table")
                say(f"error: {exc.path}: the {what} breaks the contract:")
                for line in exc.problems:
                    say(f"  - {line}")
            else:
                say(f"error: {exc}")
            raise typer.Exit(1) from None

    return wrapper

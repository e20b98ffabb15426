"""How far along a long piece of work is: the interface the library calls, and its displays.

The library reports progress through a :class:`Progress`: ``step(message)`` for a line that
says what it is doing ("reading B_TblProceeding"), ``task(description, total)`` for a loop
whose length is known (the plan's model fits, the disparity tables, the simulated fiscal
years, the validation replicates). Library functions keep accepting a plain
``Callable[[str], None]`` where they always did; :func:`as_progress` turns one (or ``None``)
into a :class:`Progress`, and every display here is itself such a callable (calling it is a
``step``), so a display can be handed to any function that takes the plain callable.

Three displays, chosen by :func:`terminal_progress` for the commands:

* ``live``: a rich display on stderr (a spinner with the time spent on the current step, a bar
  per running task) when stderr is a terminal, the ``CI`` variable is not set and ``--quiet``
  is not given. Finished steps and tasks stay above it as lines.
* ``lines``: plain lines on stderr when stderr is not a terminal or ``CI`` is set, so that
  logs stay readable: each step, and for each task at most ten count lines
  (``  models and analyses: 3 of 22``): one at the end, and one at a tenth of the total only
  when five seconds have passed since the task's last line (a quick loop prints one line).
* ``quiet``: nothing (``--quiet``).

The library holds no terminal code: rich is imported only when a live display starts, and the
library only ever calls ``step``, ``task`` and ``advance``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

Mode = Literal["live", "lines", "quiet"]
# values of CI that mean "not in CI" (CI=false is how some runners switch it off)
_NOT_CI = frozenset({"", "0", "false", "no", "off"})


class Task(Protocol):
    """One loop of known length; a context manager that ends the task when the block ends."""

    def advance(self, n: int = 1) -> None: ...

    def __enter__(self) -> Task: ...

    def __exit__(self, *exc_info: Any) -> None: ...


@runtime_checkable
class Progress(Protocol):
    """What the library calls to report progress (see the module docstring)."""

    def step(self, message: str) -> None: ...

    def task(self, description: str, total: int) -> Task: ...

    def __call__(self, message: str) -> None: ...


ProgressLike = Progress | Callable[[str], None] | None


# --------------------------------------------------------------------------- quiet
class _SilentTask:
    def advance(self, n: int = 1) -> None:
        return None

    def __enter__(self) -> _SilentTask:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        return None


class Silent:
    """Reports nothing (``--quiet``, or a library call given no progress)."""

    def step(self, message: str) -> None:
        return None

    def task(self, description: str, total: int) -> Task:
        return _SilentTask()

    def __call__(self, message: str) -> None:
        return None


# --------------------------------------------------------------------------- plain lines
class _LineTask:
    def __init__(self, write: Callable[[str], None], description: str, total: int,
                 interval: float, clock: Callable[[], float]):
        self._write, self._description, self._total = write, description, max(int(total), 0)
        self._interval, self._clock = interval, clock
        self._last = clock()
        self.completed = 0

    def advance(self, n: int = 1) -> None:
        before, self.completed = self.completed, self.completed + n
        if self._total == 0:
            return
        done = min(self.completed, self._total)
        # a line at a tenth of the total passed, and only after a pause since the last one:
        # at most ten lines however long the loop, one for a quick one, so logs stay short
        tenth = (10 * done) // self._total > (10 * before) // self._total
        now = self._clock()
        if tenth and (done == self._total or now - self._last >= self._interval):
            self._last = now
            self._write(f"  {self._description}: {done:,} of {self._total:,}")

    def __enter__(self) -> _LineTask:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        return None


class Lines:
    """Reports through a callable that takes one line: each step, and task counts.

    Parameters
    ----------
    write
        Called with each line (the commands write it to stderr).
    interval
        Seconds between two count lines of a task (its last line is always written).
    clock
        Where the seconds come from (tests pass a fake clock).

    Example
    -------
    >>> seen = []
    >>> progress = Lines(seen.append, interval=0)
    >>> with progress.task("models fitted", 2) as task:
    ...     task.advance()
    ...     task.advance()
    >>> seen
    ['  models fitted: 1 of 2', '  models fitted: 2 of 2']
    """

    def __init__(self, write: Callable[[str], None], *, interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self._write, self._interval, self._clock = write, interval, clock

    def step(self, message: str) -> None:
        self._write(message)

    def task(self, description: str, total: int) -> Task:
        return _LineTask(self._write, description, total, self._interval, self._clock)

    def __call__(self, message: str) -> None:
        self._write(message)


def as_progress(progress: ProgressLike) -> Progress:
    """A :class:`Progress` from what a library function was given.

    Parameters
    ----------
    progress
        A :class:`Progress` (returned as it is), a plain callable taking one line (its tasks
        report through it as :class:`Lines` do), or ``None`` (nothing is reported).

    Returns
    -------
    Progress

    Example
    -------
    >>> with as_progress(None).task("replicates", 200) as task:
    ...     task.advance()
    """
    if progress is None:
        return Silent()
    if isinstance(progress, Progress):
        return progress
    return Lines(progress)


# --------------------------------------------------------------------------- live (rich)
_LIVE: Live | None = None  # the live display showing now, if any: say() prints above it


class _LiveTask:
    def __init__(self, live: Live, description: str, total: int):
        self._live, self._description, self._total = live, description, max(int(total), 0)
        self.completed = 0
        self._id: Any = None
        self._start = 0.0

    def __enter__(self) -> _LiveTask:
        self._start = time.monotonic()
        self._id = self._live._add(self._description, self._total)
        return self

    def advance(self, n: int = 1) -> None:
        self.completed += n
        self._live._advance(self._id, n, self._count())

    def _count(self) -> str:
        return f"{min(self.completed, self._total):,}/{self._total:,}"

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        self._live._remove(self._id)
        if exc_type is None:  # a task cut short by an error leaves no line: the error says why
            seconds = time.monotonic() - self._start
            self._live.line(f"  {self._description}: {min(self.completed, self._total):,} of "
                            f"{self._total:,} ({_duration(seconds)})")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Live:
    """A rich live display: the current step with a spinner and its time, a bar per task.

    Steps are shown in the spinner's row while they run and printed above the display as a
    line when the next step starts (or when the display closes), so the lines above read like
    the ``lines`` display. The display is transient: it is erased when it closes, and what
    follows (the paths written, an error) is printed after the lines of the work done.
    Labels are printed as text, never as rich markup (a file may be called ``[bold].csv``).

    Parameters
    ----------
    console
        A rich ``Console``; default: stderr.
    auto_refresh
        Redraw ten times a second from a thread (default). ``False`` redraws at each call
        instead (tests, to see every state).

    Example
    -------
    >>> import io
    >>> from rich.console import Console
    >>> out = io.StringIO()
    >>> with Live(Console(file=out, force_terminal=True), auto_refresh=False) as live:
    ...     with live.task("models fitted", 2) as task:
    ...         task.advance()
    >>> "models fitted: 1 of 2" in out.getvalue()
    True
    """

    def __init__(self, console: Any = None, *, auto_refresh: bool = True):
        from rich import progress as rp
        from rich.console import Console

        own_console = console is None
        self.console = Console(stderr=True) if own_console else console
        self._auto = auto_refresh
        self._bars = rp.Progress(
            rp.SpinnerColumn(), rp.TextColumn("{task.description}", markup=False),
            rp.BarColumn(), rp.TextColumn("{task.fields[count]}", markup=False),
            rp.TimeElapsedColumn(),
            console=self.console, transient=True, auto_refresh=auto_refresh,
            # stray writes to the real stderr go above the display instead of through it
            redirect_stdout=False, redirect_stderr=own_console)
        self._status = self._bars.add_task("", total=None, visible=False, count="")
        self._current: str | None = None
        self._tasks = 0

    def __enter__(self) -> Live:
        global _LIVE
        self._bars.start()
        self._previous, _LIVE = _LIVE, self
        return self

    def __exit__(self, *exc_info: Any) -> None:
        global _LIVE
        try:
            self._flush()  # the step under way when the work ended (or failed) stays on screen
            self._bars.stop()
        finally:
            _LIVE = self._previous

    def _flush(self) -> None:
        if self._current is not None:
            self._print(self._current)
            self._current = None
            self._bars.update(self._status, visible=False)

    def _print(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False, emoji=False, soft_wrap=True)

    def _refresh(self) -> None:
        if not self._auto:
            self._bars.refresh()

    def line(self, message: str) -> None:
        """Print a line above the display (after the step under way)."""
        self._flush()
        self._print(message)
        self._refresh()

    def step(self, message: str) -> None:
        self._flush()
        self._current = message
        # the spinner row shows the step and the time spent on it (hidden while a bar runs)
        self._bars.reset(self._status, total=None, description=message, visible=self._tasks == 0,
                         count="")
        self._refresh()

    def task(self, description: str, total: int) -> Task:
        return _LiveTask(self, description, total)

    def __call__(self, message: str) -> None:
        self.step(message)

    def _add(self, description: str, total: int) -> Any:
        self._flush()
        self._tasks += 1
        task_id = self._bars.add_task(description, total=total, count=f"0/{total:,}")
        self._refresh()
        return task_id

    def _advance(self, task_id: Any, n: int, count: str) -> None:
        self._bars.update(task_id, advance=n, count=count)
        self._refresh()

    def _remove(self, task_id: Any) -> None:
        self._bars.remove_task(task_id)
        self._tasks -= 1
        self._refresh()


def live_line(message: str) -> bool:
    """Print ``message`` above the live display if one is showing; False if none is."""
    if _LIVE is None:
        return False
    _LIVE.line(message)
    return True


# --------------------------------------------------------------------------- the commands' choice
def in_ci(env: Mapping[str, str] | None = None) -> bool:
    """True when the ``CI`` variable is set to anything but empty, 0, false, no or off."""
    value = (os.environ if env is None else env).get("CI")
    return value is not None and value.strip().lower() not in _NOT_CI


def display_mode(*, quiet: bool, terminal: bool, env: Mapping[str, str] | None = None) -> Mode:
    """Which display a command uses: ``quiet`` with --quiet; ``live`` on a terminal outside CI;
    else ``lines`` (a CI log or a file keeps plain lines, never redrawn bars)."""
    if quiet:
        return "quiet"
    if terminal and not in_ci(env):
        return "live"
    return "lines"


def _stderr_is_terminal() -> bool:
    try:
        interactive = sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False
    # a dumb terminal cannot move the cursor back over a redrawn display
    return interactive and os.environ.get("TERM", "") != "dumb"


@contextlib.contextmanager
def terminal_progress(*, quiet: bool = False, console: Any = None,
                      env: Mapping[str, str] | None = None,
                      auto_refresh: bool = True) -> Iterator[Progress]:
    """The display of a command, open for the block (see :func:`display_mode`).

    Parameters
    ----------
    quiet
        ``--quiet``: report nothing.
    console
        A rich ``Console`` to draw on instead of stderr (tests); it is a terminal when
        ``console.is_terminal``. Plain lines always go to stderr.
    env
        The environment to read ``CI`` from (default ``os.environ``).
    auto_refresh
        Passed to :class:`Live`.

    Returns
    -------
    Progress
        Closed (a live display erased, its finished lines kept) when the block ends, also by an
        error, so that an error line is the last line on the screen.

    Example
    -------
    >>> with terminal_progress(quiet=True) as progress:
    ...     progress.step("reading")  # nothing is printed
    """
    terminal = console.is_terminal if console is not None else _stderr_is_terminal()
    mode = display_mode(quiet=quiet, terminal=terminal, env=env)
    if mode == "quiet":
        yield Silent()
    elif mode == "lines":
        import typer

        yield Lines(lambda message: typer.echo(message, err=True))
    else:
        with Live(console, auto_refresh=auto_refresh) as live:
            yield live


def engine_bar(progress: ProgressLike) -> bool:
    """Whether a query engine may draw its own progress bar (DuckDB's, for long statements).

    DuckDB draws it on stdout, terminal or not; stdout carries the commands' final lines, and
    a live display draws on the same screen. So: only when progress is wanted, stdout is a
    terminal and no live display is showing.
    """
    if progress is None or isinstance(progress, Silent) or _LIVE is not None:
        return False
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False

"""Progress of long commands: plain lines on stderr when not on a terminal, nothing with
--quiet, no live display in CI, a rich live display on a terminal; the final lines (paths
written, verdicts) always on stdout."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from fairness_audit import progress as pg
from fairness_audit.cli import app
from fairness_audit.command_errors import say
from fairness_audit.report.brief import CHROMIUM_NAMES, find_chromium
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.tables import TablePaths, write_decision_data

TINY_PLAN = Path(__file__).parent / "data" / "tiny_plan.yaml"
runner = CliRunner()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=100, color_system=None), out


# ------------------------------------------------------------------------------ plain lines
def test_lines_report_a_task_at_each_tenth():
    seen: list[str] = []
    with pg.Lines(seen.append, interval=0).task("tables", 25) as task:
        for _ in range(25):
            task.advance()
    # tenths of 25 are 2.5, 5, 7.5, ...: the first counts at or past each
    assert seen == [f"  tables: {k} of 25" for k in (3, 5, 8, 10, 13, 15, 18, 20, 23, 25)]


def test_lines_of_a_quick_loop_are_one_line():
    seen: list[str] = []
    clock = FakeClock()
    with pg.Lines(seen.append, clock=clock).task("fiscal years simulated", 8) as task:
        for _ in range(8):
            clock.now += 0.1  # 0.8 s in all: under the 5 s between two lines
            task.advance()
    assert seen == ["  fiscal years simulated: 8 of 8"]


def test_lines_of_a_slow_loop_wait_between_lines():
    seen: list[str] = []
    clock = FakeClock()
    with pg.Lines(seen.append, clock=clock).task("models", 4) as task:
        for seconds in (2, 4, 2, 1):  # 2, 6, 8, 9 s after the start
            clock.now += seconds
            task.advance()
    # 2 s: too soon; 6 s: 6 s since the start; 8 s: 2 s since the last; the last always
    assert seen == ["  models: 2 of 4", "  models: 4 of 4"]


def test_steps_are_lines_and_a_plain_callable_still_works():
    seen: list[str] = []
    progress = pg.as_progress(seen.append)
    progress.step("reading")
    progress("fitting")  # a display is a Callable[[str], None] too
    assert seen == ["reading", "fitting"]
    assert isinstance(pg.as_progress(None), pg.Silent)
    lines = pg.Lines(seen.append)
    assert pg.as_progress(lines) is lines


def test_silent_reports_nothing(capsys):
    progress = pg.as_progress(None)
    progress.step("reading")
    with progress.task("models", 3) as task:
        task.advance(3)
    assert capsys.readouterr() == ("", "")


# ------------------------------------------------------------------------------ which display
@pytest.mark.parametrize(("quiet", "is_terminal", "env", "mode"), [
    (True, True, {}, "quiet"),
    (True, False, {"CI": "1"}, "quiet"),
    (False, True, {}, "live"),
    (False, True, {"CI": "1"}, "lines"),
    (False, True, {"CI": "true"}, "lines"),
    (False, True, {"CI": "false"}, "live"),
    (False, True, {"CI": "0"}, "live"),
    (False, False, {}, "lines"),
])
def test_display_mode(quiet, is_terminal, env, mode):
    assert pg.display_mode(quiet=quiet, terminal=is_terminal, env=env) == mode


def test_ci_gives_plain_lines_even_on_a_terminal(capsys):
    console, out = terminal()
    with pg.terminal_progress(console=console, env={"CI": "1"}) as progress:
        assert isinstance(progress, pg.Lines)
        progress.step("reading")
    assert out.getvalue() == ""  # nothing drawn on the terminal
    assert capsys.readouterr().err == "reading\n"


# ------------------------------------------------------------------------------ live display
def test_live_display_shows_a_task_advancing():
    console, out = terminal()
    with pg.terminal_progress(console=console, env={}, auto_refresh=False) as progress:
        assert isinstance(progress, pg.Live)
        progress.step("fitting the models of the plan")
        with progress.task("models and analyses", 3) as task:
            seen = []
            for _ in range(3):
                task.advance()
                seen.append(out.getvalue())
    # each advance redrew the bar with its count
    assert all("models and analyses" in text for text in seen)
    assert re.search(r"\b1/3\b", seen[0]) and not re.search(r"\b2/3\b", seen[0])
    assert re.search(r"\b2/3\b", seen[1]) and not re.search(r"\b3/3\b", seen[1])
    assert re.search(r"\b3/3\b", seen[2])
    # what stays on the screen: the step, then the finished task with its time
    text = out.getvalue()
    assert "fitting the models of the plan\n" in text
    assert re.search(r"\x1b\[2K  models and analyses: 3 of 3 \(0:0\d\)\n", text)


def test_live_steps_are_text_not_markup_and_say_prints_above():
    console, out = terminal()
    with pg.Live(console, auto_refresh=False) as live:
        live.step("reading [bold]odd[/bold].csv")
        say("a line from say")
        assert pg._LIVE is live
    assert pg._LIVE is None
    text = out.getvalue()
    # the step is printed as it is, before say's line (finished work first)
    assert "reading [bold]odd[/bold].csv\n" in text
    assert text.index("reading [bold]odd[/bold].csv\n") < text.index("a line from say\n")


def test_live_display_closes_on_an_error(capsys):
    console, out = terminal()
    with pytest.raises(RuntimeError), pg.Live(console, auto_refresh=False) as live:
        live.step("reading the release")
        with live.task("tables", 5) as task:
            task.advance()
            raise RuntimeError("boom")
    assert pg._LIVE is None
    text = out.getvalue()
    assert "tables: " not in text  # a task cut short leaves no count line
    say("error: something")  # after the display: plain stderr
    assert capsys.readouterr().err == "error: something\n"


def test_no_engine_bar_under_a_live_display_or_quiet():
    assert not pg.engine_bar(None)
    assert not pg.engine_bar(pg.Silent())
    console, _ = terminal()
    with pg.Live(console, auto_refresh=False) as live:
        assert not pg.engine_bar(live)
    # CliRunner's stdout is not a terminal: DuckDB's bar would land in a file or a pipe
    assert not pg.engine_bar(print)


# ------------------------------------------------------------------------------ the commands
@pytest.fixture(scope="module")
def small_table(tmp_path_factory) -> Path:
    params = dataclasses.replace(SimulationParams(), n_courts=2, judges_per_court=3,
                                 first_fiscal_year=2016, last_fiscal_year=2019)
    sim = simulate(params, seed=3)
    paths = TablePaths.from_path(tmp_path_factory.mktemp("small") / "court.parquet")
    write_decision_data(paths, sim.decisions, sim.workload, sim.ledger, sim.metadata)
    return paths.decisions


def audit(table: Path, out: Path, *extra: str, env: dict[str, str] | None = None):
    result = runner.invoke(app, ["audit", str(table), "--out", str(out), "--config",
                                 str(TINY_PLAN), *extra], env=env)
    assert result.exit_code == 0, result.output
    return result


def final_lines(out: Path) -> list[str]:
    from fairness_audit.report.render import report_files

    return ["wrote " + ", ".join(map(str, report_files(out))) + f" and {out}/tables, {out}/figures"]


@pytest.fixture(scope="module")
def loud_audit(small_table, tmp_path_factory):
    out = tmp_path_factory.mktemp("loud") / "a"
    return audit(small_table, out), out


def test_audit_progress_is_plain_lines_on_stderr(loud_audit):
    result, out = loud_audit
    err = result.stderr.splitlines()
    # the tiny plan: one model; its disparity tables: granted (the plan's outcome when none is
    # named) by represented, before and after the policy, without adjusted gaps
    assert err[0].startswith("read ") and err[0].endswith(" decisions")
    # on a machine without Chromium the audit also says why brief.pdf is missing
    no_pdf = [] if find_chromium() else [
        f"brief.pdf not written: no Chromium found (looked for {', '.join(CHROMIUM_NAMES)})"]
    assert err[1:] == ["fitting the models of the plan", "  models and analyses: 1 of 1",
                       "computing group disparities", "  disparity tables: 2 of 2",
                       "writing the report", *no_pdf]
    stdout = result.stdout.splitlines()
    assert stdout[:1] == final_lines(out)
    assert stdout[1].startswith("  H5 ") and "\x1b" not in result.stdout + result.stderr


def test_audit_quiet_prints_only_the_final_lines(small_table, loud_audit):
    loud, out = loud_audit
    result = audit(small_table, out, "--quiet")  # replaces the earlier audit's folder
    assert result.stderr == ""
    assert result.stdout == loud.stdout  # the paths written and the verdicts, unchanged


def test_ci_gives_plain_lines_from_a_command(small_table, tmp_path):
    result = runner.invoke(app, ["export", str(small_table), "--format", "csv", "--out",
                                 str(tmp_path / "x")], env={"CI": "1"})
    assert result.exit_code == 0, result.output
    assert "writing the codebook" in result.stderr.splitlines()
    assert "\x1b" not in result.stderr


@pytest.mark.parametrize("quiet", [False, True])
def test_export_and_judges_quiet(small_table, tmp_path, quiet):
    flag = ["-q"] if quiet else []
    result = runner.invoke(app, ["export", str(small_table), "--format", "csv", "--out",
                                 str(tmp_path / "x"), *flag])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'x' / 'court.csv'}" in result.stdout.splitlines()
    assert (result.stderr == "") == quiet and (quiet or "writing the codebook" in result.stderr)
    result = runner.invoke(app, ["judges", str(small_table), "--out", str(tmp_path / "j"),
                                 "--rules", "all", *flag])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {tmp_path / 'j'}/summary.md")
    expected = "" if quiet else ("reading court.parquet (decisions)\n"
                                 "writing the judge tables and the funnel plot\n")
    assert result.stderr == expected


def test_an_error_is_the_last_line_after_progress(small_table, tmp_path):
    bad = tmp_path / "plan.yaml"
    bad.write_text(TINY_PLAN.read_text().replace("bootstrap_replicates: 50",
                                                 "bootstrap_replicates: many"))
    result = runner.invoke(app, ["audit", str(small_table), "--out", str(tmp_path / "a"),
                                 "--config", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("error: ")
    assert result.stdout == ""


def test_every_long_command_has_quiet():
    for args in (["simulate"], ["ingest", "eoir"], ["ingest", "table"], ["audit"], ["judges"],
                 ["diff-releases"], ["export"], ["run"], ["verify"]):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0
        assert "--quiet" in result.stdout and "-q" in result.stdout, args

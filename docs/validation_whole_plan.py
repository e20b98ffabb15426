"""Write section 4's results of docs/validation.md (the whole plan, R = 200 per design) from the
committed replicates.

The rows of every replicate are committed: ``docs/validation_replicates.csv.gz`` (the current
plan, with CR2 errors for the court x month models; while its run is under way, the replicates
finished so far, and the reading says how many), ``docs/validation_replicates_crv1.csv.gz`` (a
first run of the current plan with CRV1 errors for those models, stopped at 103 + 103
replicates) and ``docs/validation_replicates_earlier_rules.csv.gz`` (the plan before section 5's
rules). The blocks written here:

- ``validation_whole_plan``: what ``python -m fairness_audit.validation summarise`` prints for
  the current plan's rows;
- ``validation_whole_plan_reading``: the reading above those tables, every share, range and
  "within" or "above" the bound it cites written from the same summary, and the same figures
  of the earlier rules' run beside them;
- ``validation_whole_plan_crv1`` and ``validation_whole_plan_cr2``: the quota terms' spread and
  coverage with each kind of errors;
- ``validation_anticipation``: H1's verdict and the pre-trend and anticipation checks on the
  design whose effects start early (``docs/validation_anticipation.csv.gz``).

::

    python docs/validation_whole_plan.py            # rewrite the blocks
    python docs/validation_whole_plan.py --check    # compare only; exit 1 on any difference

tests/test_validation_plans.py checks that the blocks are what the committed rows give.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

from fairness_audit.config import load_config
from fairness_audit.hypotheses import forcing_check_keys
from fairness_audit.validation import NO_EFFECT, markdown, read_rows, summarise, summarise_rows

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import marked_block  # noqa: E402
from validation_text import guard_window, of, primary_significant, shares_close  # noqa: E402

PAGE = HERE / "validation.md"
# the current plan's run (CR2 errors for the court x month models)
ROWS = HERE / "validation_replicates.csv.gz"
# the replicates per design the run is for
PLANNED = 200
# a first run of the current plan, with CRV1 errors for the court x month models
CRV1_ROWS = HERE / "validation_replicates_crv1.csv.gz"
# the run under the rules before section 5 (fiscal effects, no guards, checks by significance)
EARLIER_ROWS = HERE / "validation_replicates_earlier_rules.csv.gz"
# the planted effects starting six months early (design `anticipation`)
ANTICIPATION_ROWS = HERE / "validation_anticipation.csv.gz"
BLOCK, READING_BLOCK = "validation_whole_plan", "validation_whole_plan_reading"
CRV1_BLOCK, CR2_BLOCK = "validation_whole_plan_crv1", "validation_whole_plan_cr2"
ANTICIPATION_BLOCK = "validation_anticipation"
# the checks of the event studies that the reading counts beside the forcing ones
REPORTED_PREFIXES = ("pre-trend", "anticipation")
# a fall in power (from the earlier rules' run) that the reading explains
DROP = 0.10


def _pct(share: float) -> str:
    """A share as a percentage, with one decimal only where it needs one."""
    value = round(100 * share, 1)
    return f"{value:g}%"


def _span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return _pct(low) if low == high else f"{_pct(low)}-{_pct(high)}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _coverage(summary) -> str:
    cov = summary["coverage"]
    below = [c["test"] for c in cov if not c["passed"]]
    bounds = sorted({f"{c['bound']:.3f}" for c in cov})
    text = (f"**Coverage**: every tested term's 95% interval covers its target in "
            f"{_span([c['coverage'] for c in cov])} of the planted replicates (bound "
            f"{_join(bounds)}")
    text += ("; every term within it)" if not below
             else f"; below it: {_join([f'`{t}`' for t in below])})")
    full = [c for c in cov if c["coverage"] == 1.0]
    if full:
        text += (f". The intervals of {_join(sorted({c['model'] for c in full}))} cover in every "
                 "replicate for "
                 f"{len(full)} of the {len(cov)} terms: conservative where the standard errors "
                 "resample judges while the targets are conditional on the judges drawn")
    return text + "."


def _bias(summary) -> str:
    ts = [abs(c["bias_t"]) for c in summary["coverage"] if c["bias_t"] is not None]
    worst = max(ts)
    return (f"**Bias**: no term's mean error exceeds {worst:.1f} of its standard errors across "
            f"replicates (the slow tests ask at most 4{'' if worst <= 4 else ': not met'}).")


def _false_flags(summary) -> str:
    ff = summary["false_flags"]
    k = round(ff["rate"] * ff["R"])
    word = "within" if ff["passed"] else "above"
    text = (f"**False flags**: {k} of {ff['R']} null audits ({ff['rate']:.3f}; bound "
            f"{ff['bound']:.3f}, {word} it) had a primary test of H1-H5 or H7 \"consistent "
            "with the concern\"")
    h6 = ff["per_test"].get("H6.primary")
    if h6 is not None:
        text += (f" (H6 is \"consistent\" in {_pct(h6)} of the null audits: the null keeps the "
                 "judge spread, and H6 tests that spread; its own calibration is in "
                 "docs/disparities.md)")
    return text + "."


def _design_check(summary) -> str:
    rows = summary["design_check"]
    without = next((r for r in rows if "without judge" in r["model"]
                    and r["term"] == "quota_shortfall"), None)
    with_fe = {r["term"]: r for r in rows if "without judge" not in r["model"]}
    parts = []
    if without is not None:
        share = without["share_significant_with_confounder_sign"]
        parts.append("without judge fixed effects the confounded slope is significant with the "
                     "confounder's sign in "
                     + ("every null replicate" if share == 1.0 else f"{_pct(share)} of the "
                        "null replicates"))
    named = {"quota_shortfall": "placebo term", "post_policy:quota_shortfall": "primary term"}
    found = [f"{_pct(r['share_significant_with_confounder_sign'])} ({named.get(term, term)})"
             for term, r in sorted(with_fe.items(), key=lambda kv: kv[0] != "quota_shortfall")]
    if found:
        parts.append(f"with them, in {_join(found)}")
    return "**Design check**: " + "; ".join(parts) + "."


def _power(summary) -> str:
    targets = {c["test"]: c["mean_target"] for c in summary["coverage"]}
    planted = [v for v in summary["verdicts"] if v["design"] == "planted"]
    with_effect, without = [], []
    for v in planted:
        target = targets.get(v["test"])
        if target is not None and abs(target) < NO_EFFECT:
            without.append(v["consistent"])
            continue
        name = v["test"].replace(".primary", "")
        if name.startswith("H4."):
            name = f"H4 ({name.split('.', 1)[1]})"
        with_effect.append(f"{name} {_pct(v['consistent'])}")
    guarded = any(c["check"].startswith("guard ") for c in summary["checks"])
    after = "adjustment, design checks and guards" if guarded else "adjustment and design checks"
    text = f"**Power** (planted, after {after}): " + ", ".join(with_effect)
    if without:
        text += (f"; the H4 terms with no planted effect are \"consistent\" in "
                 f"{_span(without)}")
    share = {(v["design"], v["test"]): v for v in summary["verdicts"]}
    h1 = [share.get((d, "H1.primary")) for d in ("planted", "null")]
    if all(h1):
        text += (f". H1.primary is \"inconclusive\" in {_pct(h1[0]['inconclusive'])} of the "
                 f"planted replicates and {_pct(h1[1]['inconclusive'])} of the null ones, "
                 "because a check it depends on failed")
    return text + "."


def _checks(summary) -> str:
    """The failure rates of the checks that force a verdict under the plan (named from it), then
    of the other pre-trend and anticipation checks, which are reported and force nothing."""
    keys = forcing_check_keys(load_config())
    bounded = [c for c in summary["checks"] if c["design"] in ("null", "planted")
               and c["bound"] is not None]
    forcing = [c for c in bounded if c["check"] in keys]
    if not forcing:
        return ""
    reported = [c for c in bounded if c["check"] not in keys
                and c["check"].startswith(REPORTED_PREFIXES)]
    above = [f"{c['check']} ({c['design']})" for c in forcing + reported if not c["within_bound"]]
    bounds = sorted({(c["R"], f"{c['bound']:.3f}") for c in forcing + reported})
    text = ("**Design checks**: on both designs the checks that force a verdict under the plan ("
            + _join([f"`{k}`" for k in keys]) + ") fail in "
            f"{_span([c['failure_rate'] for c in forcing])} of the replicates")
    if reported:
        text += (", the other pre-trend and anticipation checks (reported, forcing nothing) in "
                 f"{_span([c['failure_rate'] for c in reported])}")
    text += (" (bounds " + _join([f"{b} at R = {r}" for r, b in bounds])
             + ("; every one within its bound" if not above else f"; above it: {_join(above)}")
             + ")")
    for c in summary["checks"]:
        if c["check"] in keys and c["target"] is not None and abs(c["target"]) >= NO_EFFECT:
            text += (f"; `{c['check']}` on the {c['design']} design is held to no bound, since "
                     f"its term's target there is {c['target']:.3f}, not zero (the model is not "
                     "the simulator's, and what it leaves out after the policy date reaches its "
                     "pre-policy slope through the effects both periods share): it fails in "
                     f"{_pct(c['failure_rate'])} of those replicates, each of which the check "
                     "makes \"inconclusive\"")
    return text + "; the placebo-date and shock checks are in the full table below."


def _under_way(summary) -> str:
    """Where the run has fewer replicates than planned, how many it has."""
    n = {d: v["R"] for v in summary["verdicts"] for d in (v["design"],)}
    if all(n.get(d, 0) >= PLANNED for d in ("planted", "null")):
        return ""
    return (f"**The run is under way: these are its first {n.get('planted', 0)} planted and "
            f"{n.get('null', 0)} null replicates of {PLANNED} each.** ")


def _primary_shares(summary, design: str) -> dict[str, float]:
    """Share of replicates with each primary test consistent (H4: its unrepresented term)."""
    out = {}
    for v in summary["verdicts"]:
        if v["design"] == design and (v["test"].count(".") == 1
                                      or v["test"] == "H4.primary.unrepresented"):
            out[v["test"].split(".")[0]] = v["consistent"]
    return out


def _earlier(summary, earlier) -> str:
    """The same figures under the rules before section 5, beside the current ones."""
    now, before = _primary_shares(summary, "planted"), _primary_shares(earlier, "planted")
    ff = earlier["false_flags"]
    return (f"**Under the earlier rules** (R = {ff['R']} per design; fiscal-year and fiscal-month "
            "effects with CRV1 errors, no guards, checks judged by significance alone; "
            f"`{EARLIER_ROWS.name}`): {round(ff['rate'] * ff['R'])} of {ff['R']} null audits "
            "flagged, and power (H4: its unrepresented term) "
            + ", ".join(f"{h} {_pct(before[h])} (now {_pct(now[h])})"
                        for h in sorted(before) if h in now and h != "H6")
            + ". Section 5 sets these beside the stress scenarios.")


def _planted_by_replicate(rows) -> dict[str, dict[str, dict]]:
    """{replicate: {test or check id: its row}} of the planted design."""
    out: dict[str, dict[str, dict]] = {}
    for r in rows:
        if r["design"] == "planted" and r["kind"] in ("test", "check"):
            out.setdefault(r["replicate"], {})[r["test_id"]] = r
    return out


def _guard_text(config, hypothesis: str, guard_id: str) -> str:
    """A guard named with what it keeps: decisions before its model's end date, if it has one."""
    model = config.models[next(t.model for t in config.hypotheses[hypothesis].tests
                               if t.id == guard_id)]
    if model.end is None:
        return f"`{guard_id}`"
    return f"`{guard_id}` ({guard_window(config.policy, model.end)})"


def _where_lost(test_id: str, rows, earlier_rows) -> tuple[str, bool]:
    """Where one primary test's power went: in how many planted audits its estimate alone is
    significant with the concern's sign (now and under the earlier rules, on the same simulated
    court systems), how many of those each guard stopped, and how many of the rest a forcing
    check of its hypothesis made "inconclusive". Also whether the primary alone is as often
    significant as before (within two standard errors)."""
    config = load_config()
    alpha, hypothesis = config.inference.alpha, test_id.split(".")[0]
    guards = next(t.guards for t in config.hypotheses[hypothesis].tests if t.id == test_id)
    now, before = _planted_by_replicate(rows), _planted_by_replicate(earlier_rows)
    forcing = [k for k in forcing_check_keys(config)
               if any(d.get(k, {}).get("hypothesis") == hypothesis for d in now.values())]
    significant = [d for d in now.values() if primary_significant(d[test_id], alpha)]
    significant_before = [d for d in before.values() if primary_significant(d[test_id], alpha)]
    stopped = {g: sum(d[f"guard {g} of {test_id}"]["verdict"] != "passed" for d in significant)
               for g in guards}
    unguarded = [d for d in significant
                 if all(d[f"guard {g} of {test_id}"]["verdict"] == "passed" for g in guards)]

    def forced(ds, key):
        return sum(d[key]["verdict"] == "failed" for d in ds if key in d)

    text = (f"{test_id}'s estimate alone is significant with the concern's sign in "
            f"{of(len(significant), len(now))} audits ({len(significant_before)} under the "
            "earlier rules); of these, " + _join(
                [f"{_guard_text(config, hypothesis, g)} stopped {stopped[g]}" for g in guards]))
    if forcing:
        text += (", and of the rest " + _join(
            [f"`{k}` made {forced(unguarded, k)} \"inconclusive\" "
             f"({forced(significant_before, k)} under the earlier rules)" for k in forcing]))
    consistent = sum(d[test_id]["verdict"] == "consistent with the concern" for d in now.values())
    close = shares_close(len(significant), len(now), len(significant_before), len(before))
    return text + f", leaving {consistent}", close


def _drops(summary, earlier, rows, earlier_rows) -> str:
    """Why the power of a primary test fell by ``DROP`` or more from the earlier rules."""
    now, before = _primary_shares(summary, "planted"), _primary_shares(earlier, "planted")
    dropped = [h for h in sorted(before) if h in now and before[h] - now[h] >= DROP - 1e-9]
    if not dropped:
        return ""
    lost = [_where_lost("H4.primary.unrepresented" if h == "H4" else f"{h}.primary",
                        rows, earlier_rows) for h in dropped]
    text = (f"**Where power went** (falls of {round(100 * DROP)} points or more, on the same "
            "simulated court systems as the earlier rules' run: "
            + _join([f"{h} {round(100 * (before[h] - now[h]), 1):g} points" for h in dropped])
            + "): " + "; ".join(t for t, _ in lost) + ".")
    if all(close for _, close in lost):
        text += (" The primary estimates alone are significant about as often as before (within "
                 "two standard errors); the guards take the difference: the price of a verdict "
                 "that a court-level shock after the guard's date cannot produce (section 5, "
                 "`shocks`).")
    return text


def reading(summary=None, earlier=None, rows=None, earlier_rows=None) -> str:
    rows = rows if rows is not None else read_rows([ROWS])
    earlier_rows = earlier_rows if earlier_rows is not None else read_rows([EARLIER_ROWS])
    summary = summary or summarise_rows(rows)
    earlier = earlier or summarise_rows(earlier_rows)
    parts = [_coverage(summary), _bias(summary), _false_flags(summary),
             _design_check(summary), _power(summary), _checks(summary), _earlier(summary, earlier),
             _drops(summary, earlier, rows, earlier_rows)]
    return _under_way(summary) + "Reading the tables. " + " ".join(p for p in parts if p)


def render(summary=None) -> str:
    return markdown(summary or summarise([ROWS])).rstrip("\n")


def _quota_rows(summary) -> list[dict]:
    return [c for c in summary["coverage"] if "quota_shortfall" in c["term"]
            and c["term"].count(":") <= 1]


def _null_t_spread(rows: list[dict[str, str]], court_month: dict[str, bool]) -> dict[bool, list[float]]:
    """The SD over the null replicates of each quota term's t-statistic (1 when its standard
    errors are right), per test with at least 20 replicates, by whether its model has court x
    month effects."""
    values: dict[tuple[str, str, str], list[float]] = {}
    for r in rows:
        if (r["design"] == "null" and r["kind"] == "test" and "quota_shortfall" in r["term"]
                and r["term"].count(":") <= 1 and r["estimate"] and r["std_error"]):
            values.setdefault((r["test_id"], r["term"], r["model"]), []).append(
                float(r["estimate"]) / float(r["std_error"]))
    out: dict[bool, list[float]] = {True: [], False: []}
    for (_, _, model), v in values.items():
        if len(v) >= 20:
            out[court_month[model]].append(statistics.stdev(v))
    return out


def quota_spread(path: Path, errors: str, replicate_rows: list, summary) -> str:
    """What the rows of ``path`` (``replicate_rows``, summarised in ``summary``) show of the
    quota terms' standard errors: the spread of the estimates over their mean standard error and
    the coverage, court x month models against fiscal ones, and on the null design the spread of
    their t-statistics."""
    court_month = {name: "court_id^calendar_month" in spec.fixed_effects
                   for name, spec in load_config().models.items()}
    rows = _quota_rows(summary)
    kinds = {"court x month": [], "fiscal-year and fiscal-month": []}
    for c in rows:
        kinds["court x month" if court_month[c["model"]] else "fiscal-year and fiscal-month"].append(c)
    parts = []
    for kind, cs in kinds.items():
        ratios = [c["sd_estimate"] / c["mean_se"] for c in cs]
        parts.append(f"of the models with {kind} effects ({len(cs)} terms) spread "
                     f"{min(ratios):.2f}-{max(ratios):.2f} times their mean standard error and "
                     f"covered their targets in {_span([c['coverage'] for c in cs])} of the "
                     "replicates")
    n = max(c["R"] for c in rows)
    null_sd = _null_t_spread(replicate_rows, court_month)
    null_text = ""
    if null_sd[True]:
        r_null = len({r["replicate"] for r in replicate_rows if r["design"] == "null"})
        null_text = (f" On the {r_null} null replicates the t-statistics of the same terms have "
                     "standard deviations " + "; ".join(
                         f"{min(v):.2f}-{max(v):.2f} ({kind})"
                         for kind, v in (("court x month", null_sd[True]),
                                         ("fiscal effects", null_sd[False])) if v)
                     + " (1 when the standard errors are right).")
    precision = (f" With {n} replicates an SD is known to about +-{1 / math.sqrt(2 * (n - 1)):.0%}"
                 " of itself (one standard error).")
    lines = [f"In the {n} planted replicates run with {errors} (`{path.name}`), the estimates "
             "of the quota terms (`quota_shortfall`, `post_policy:quota_shortfall`) "
             + "; those ".join(parts) + "." + null_text + precision,
             "",
             "| test | term | model | R | coverage | SD of estimates / mean SE |",
             "|---|---|---|---|---|---|"]
    for c in rows:
        lines.append(f"| {c['test']} | `{c['term']}` | {c['model']} | {c['R']} | "
                     f"{c['coverage']:.3f} | {c['sd_estimate'] / c['mean_se']:.2f} |")
    return "\n".join(lines)


def crv1_spread() -> str:
    rows = read_rows([CRV1_ROWS])
    return quota_spread(CRV1_ROWS, "CRV1 errors for every decision-level model", rows,
                        summarise_rows(rows))


def cr2_spread(rows: list, summary) -> str:
    return quota_spread(ROWS, "CR2 errors for the models of H2, H4 and H7", rows, summary)


def anticipation() -> str:
    """The anticipation design's rows: H1's primary verdict and how often each pre-trend and
    anticipation check caught the early start."""
    summary = summarise([ANTICIPATION_ROWS])
    n = max(v["R"] for v in summary["verdicts"])
    kept = dict(summary, coverage=[], false_flags={}, design_check=[], stress_false_flags=[],
                bootstrap=[], parallel_trends=[], omitted_variable=[],
                verdicts=[v for v in summary["verdicts"] if v["test"] == "H1.primary"],
                checks=[c for c in summary["checks"] if c["check"].startswith(REPORTED_PREFIXES)])
    tables = markdown(kept).rstrip("\n")
    return (f"R = {n} (`{ANTICIPATION_ROWS.name}`): H1's primary verdict, and how often each "
            "anticipation and pre-trend check failed (caught the early start):\n\n" + tables)


def write(check: bool = False) -> bool:
    rows = read_rows([ROWS])
    summary = summarise_rows(rows)
    blocks = {BLOCK: render(summary) + "\n", READING_BLOCK: reading(summary, rows=rows) + "\n",
              CRV1_BLOCK: crv1_spread() + "\n", CR2_BLOCK: cr2_spread(rows, summary) + "\n",
              ANTICIPATION_BLOCK: anticipation() + "\n"}
    return marked_block.update(PAGE, blocks, check=check)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare only; exit 1 when the page differs from the rows")
    args = parser.parse_args(argv)
    if write(check=args.check):
        return 0
    print(f"{PAGE}: section 4 is not what {ROWS.name} gives: run "
          "python docs/validation_whole_plan.py", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

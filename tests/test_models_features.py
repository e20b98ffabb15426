"""The complete-year rule of pre_policy_gap and its option (docs/features.md)."""

from __future__ import annotations

import numpy as np
import pytest

from fairness_audit.features import Workload, fiscal_year_start, pre_policy_gap


def _work(offsets_by_judge: dict[str, list[int]]) -> Workload:
    fy15 = int(fiscal_year_start([2015])[0])
    judges, days = [], []
    for judge, offsets in offsets_by_judge.items():
        judges += [judge] * len(offsets)
        days += [fy15 + o for o in offsets]
    return Workload(np.array(judges, dtype=object), np.array(days, dtype="int64"), "test", "merits")


def test_first_completion_after_the_slack_makes_the_year_incomplete():
    # J1 works all of FY2015 (500 completions); J2 starts 40 days into it (300 completions)
    work = _work({"J1": list(np.linspace(0, 364, 500).astype(int)),
                  "J2": list(np.linspace(40, 364, 300).astype(int))})
    covered = int(fiscal_year_start([2015])[0])
    gap = pre_policy_gap(work, years=(2015, 2015), target=700, covered_from=covered)
    assert gap["J1"] == pytest.approx(2.0)  # (700 - 500) / 100
    assert np.isnan(gap["J2"])  # joined mid-year: its count is not a year's pace
    wide = pre_policy_gap(work, years=(2015, 2015), target=700, covered_from=covered, slack_days=60)
    assert wide["J2"] == pytest.approx(4.0)


def test_year_before_the_data_coverage_is_never_complete():
    work = _work({"J1": list(np.linspace(0, 364, 500).astype(int))})
    covered = int(fiscal_year_start([2015])[0]) + 1
    gap = pre_policy_gap(work, years=(2015, 2015), target=700, covered_from=covered)
    assert np.isnan(gap["J1"])

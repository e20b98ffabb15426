"""A logit drops fixed-effect levels whose outcomes are all 0 or all 1, repeatedly, and counts
them: in n, in the judges G and in the sample's excluded rows (models/regression.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_models_marginal import TERMS, court_frame

from fairness_audit.config import ModelSpec
from fairness_audit.errors import ModelWarning, NotEstimable
from fairness_audit.models.design import build_design
from fairness_audit.models.regression import fit, informative_rows

DROPPED = "dropped by the engine: singleton or constant-outcome fixed-effect group"
# judge, court x month cell, outcome
ROWS = [("A", "c1", 0), ("A", "c2", 0),  # judge A: no grants
        ("B", "c2", 1), ("B", "c3", 0), ("B", "c3", 1),
        ("C", "c3", 1), ("C", "c4", 0), ("C", "c4", 1),
        ("D", "c4", 1), ("D", "c3", 1)]  # judge D: grants only
# A goes (all 0), D goes (all 1); c2 then holds B's grant alone and goes on the second pass
KEPT = [False, False, False, True, True, True, True, True, False, False]


def _codes(rows):
    judges = {j: i for i, j in enumerate(sorted({r[0] for r in rows}))}
    cells = {c: i for i, c in enumerate(sorted({r[1] for r in rows}))}
    fe = np.array([[judges[j], cells[c]] for j, c, _ in rows])
    return fe, np.array([float(r[2]) for r in rows])


def test_levels_with_one_outcome_go_until_none_is_left():
    fe, y = _codes(ROWS)
    assert informative_rows(fe, y).tolist() == KEPT


def test_the_rows_kept_do_not_depend_on_the_order():
    order = np.random.default_rng(3).permutation(len(ROWS))
    fe, y = _codes([ROWS[i] for i in order])
    assert informative_rows(fe, y).tolist() == [KEPT[i] for i in order]
    assert informative_rows(fe[:, ::-1], y).tolist() == [KEPT[i] for i in order]


def _design(frame, fixed_effects=("judge_id", "fiscal_year")):
    return build_design(frame, ModelSpec(family="logit", outcome="granted", terms=TERMS,
                                         fixed_effects=fixed_effects))


def _fit(frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        return fit(_design(frame), name="constant judge")


def test_a_judge_who_granted_every_case_is_dropped_from_n_and_g():
    frame = court_frame(per_judge=250)
    frame.loc[frame["judge_id"] == "J000", "granted"] = 1.0
    with pytest.warns(ModelWarning, match="250 rows dropped by the engine"):
        result = fit(_design(frame), name="constant judge")
    assert result.excluded == {DROPPED: 250}
    assert result.n_obs == len(frame) - 250
    assert result.n_clusters == 39
    # the same fit as without the judge's rows: estimates, and errors with n and G of the
    # rows fitted (keeping the judge changed G / (G - 1) and (n - 1) / (n - k) by about 1e-3)
    without = _fit(frame[frame["judge_id"] != "J000"])
    np.testing.assert_allclose(result.params, without.params, rtol=1e-8)
    np.testing.assert_allclose(result.std_errors, without.std_errors, rtol=1e-8)


def test_a_judge_without_grants_no_longer_counts_as_a_cluster():
    frame = court_frame(per_judge=250)
    frame.loc[frame["judge_id"].isin(["J000", "J001"]), "granted"] = 0.0
    result = _fit(frame)
    assert result.excluded == {DROPPED: 500}
    assert result.n_clusters == 38
    assert result.df_t == 37


def test_every_level_with_one_outcome_is_not_estimable():
    frame = court_frame(n_judges=10, per_judge=100)
    frame["granted"] = (frame["judge_id"] < "J005").astype(float)
    with pytest.raises(NotEstimable, match=r"not estimable: granted \(model constant judge: 0 of "
                                           r"1000 rows are left once fixed-effect levels whose "
                                           r"granted outcomes are all 0 or all 1 are dropped"):
        _fit(frame)

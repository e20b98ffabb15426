import pandas as pd
import pytest

from fairness_audit.schema import DECISION_COLUMNS, OPTIONAL_DECISION_COLUMNS, validate_decisions
from fairness_audit.simulate import SimulationParams, simulate


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    import dataclasses

    return simulate(dataclasses.replace(SimulationParams(), n_courts=2, last_fiscal_year=2015),
                    seed=3).decisions.head(2000).copy()


def test_simulated_table_is_valid(table):
    assert validate_decisions(table) == []
    assert list(table.columns) == [c.name for c in (*DECISION_COLUMNS, *OPTIONAL_DECISION_COLUMNS)]


def test_missing_column_named(table):
    problems = validate_decisions(table.drop(columns=["judge_id"]))
    assert any("missing column(s) 'judge_id'" in p for p in problems)


def test_bad_outcome_value_named_with_rows(table):
    bad = table.copy()
    bad.loc[[3, 7], "outcome"] = "deported"
    (line,) = validate_decisions(bad)
    assert line.startswith("column 'outcome': expected one of grant, removal")
    assert "found 'deported' in 2 row(s) (first rows: 3, 7)" in line


def test_null_in_required_column(table):
    bad = table.copy()
    bad.loc[5, "court_id"] = None
    (line,) = validate_decisions(bad)
    assert line == "column 'court_id': expected no missing values, found 1 missing (first rows: 5)"


def test_unreadable_type_named(table):
    bad = table.copy()
    bad["duration_days"] = bad["duration_days"].astype(object)
    bad.loc[2, "duration_days"] = "ten"
    (line,) = validate_decisions(bad)
    assert line.startswith("column 'duration_days': expected numbers, found 'ten' in 1 row(s)")


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("granted", None, "column 'granted': expected outcome == 'grant'"),
        ("fiscal_year", 1999, "column 'fiscal_year': expected the fiscal year of decision_date"),
        ("proceeding_id", "P00000001", "column 'proceeding_id': expected unique values"),
    ],
)
def test_cross_column_rules(table, column, value, message):
    bad = table.copy()
    row = 10
    if column == "granted":
        bad.loc[row, "granted"] = not bool(bad.loc[row, "granted"])
    else:
        bad.loc[row, column] = value
    problems = validate_decisions(bad)
    assert any(p.startswith(message) for p in problems), problems


def test_remanded_requires_appeal(table):
    bad = table.copy()
    row = bad.index[~bad["appealed"].astype(bool)][0]
    bad["remanded"] = bad["remanded"].astype("boolean")
    bad.loc[row, "remanded"] = True
    problems = validate_decisions(bad)
    assert any(p.startswith("column 'remanded': expected null unless appealed") for p in problems)

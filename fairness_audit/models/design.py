"""From a model specification to the arrays an engine fits: the one place where contract term
names (``post_policy:quota_shortfall``) meet engine column names (``post_policy__quota_shortfall``).

A term is a product of frame columns joined by ':'. Fixed effects are frame columns, or
interactions written ``court_id^quarter``. Sample filters are named: each removes rows for a
reason that the model's ``sample.excluded`` reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairness_audit.config import ModelSpec

ENGINE_SEPARATOR = "__"
# integer indices such as event_time[-3]: brackets and minus signs are formula syntax too
_INDEX = re.compile(r"\[(-?)(\d+)\]")
_ENGINE_INDEX = re.compile(r"_ix(m?)(\d+)_xi")


def cluster_unit(cluster: str) -> str:
    """What a cluster is, in words: 'judge' for judge_id, 'court' for court_id (the models'
    notes and the report's model lines say it the same way)."""
    return cluster.removesuffix("_id").replace("_", " ")


def column_for(term: str) -> str:
    """Engine-safe column name of a contract term (':' is formula syntax in every engine).

    ``event_time[-3]:pre_policy_gap`` becomes ``event_time_ixm3_xi__pre_policy_gap``.
    """
    safe = _INDEX.sub(lambda m: f"_ix{'m' if m.group(1) else ''}{m.group(2)}_xi", term)
    return safe.replace(":", ENGINE_SEPARATOR)


def term_for(column: str) -> str:
    named = _ENGINE_INDEX.sub(lambda m: f"[{'-' if m.group(1) else ''}{m.group(2)}]", column)
    return named.replace(ENGINE_SEPARATOR, ":")


@dataclass(frozen=True)
class SampleFilter:
    """A named sample restriction of the plan.

    ``reason`` is shown for the rows it removes; ``keep`` gives the mask of rows kept;
    ``needs`` names the column whose values it reads, named when it leaves no rows
    ("not estimable: <needs>"; the model's outcome when None).
    """

    reason: str
    keep: Callable[[pd.DataFrame], pd.Series]
    needs: str | None = None


SAMPLE_FILTERS: dict[str, SampleFilter] = {
    "in_window": SampleFilter("outside window or no decision date",
                              lambda d: d["in_window"].astype(bool), "decision_date"),
    "has_quota_shortfall": SampleFilter(
        "no quota_shortfall (fiscal year not covered or no date)",
        lambda d: d["quota_shortfall"].notna(), "decision_date"),
    "has_pre_policy_gap": SampleFilter("judge without a complete year in the intensity window",
                                       lambda d: d["pre_policy_gap"].notna(), "pre_policy_gap"),
    "not_in_absentia": SampleFilter("in absentia", lambda d: d["in_absentia"].fillna(0) == 0),
    "no_asylum_application": SampleFilter("asylum application or not recorded",
                                          lambda d: d["asylum_application"] == 0),
    "board_decided": SampleFilter(
        "not appealed, or appeal not yet decided by the board",
        lambda d: (d["appealed"].fillna(0) == 1) & d["remanded"].notna(), "remanded"),
    "post_policy": SampleFilter("before the policy", lambda d: d["post_policy"] == 1,
                                "decision_date"),
}


@dataclass(frozen=True)
class Design:
    """The rows and columns one model fits, with what its sample left out and why."""

    spec: ModelSpec
    data: pd.DataFrame  # outcome, term columns (engine names), fixed-effect columns, cluster
    terms: tuple[str, ...]
    fe_columns: tuple[str, ...]
    cluster: str
    excluded: dict[str, int]
    filter_text: str
    # the variables the terms are products of (frame names, float), aligned with ``data``: the
    # marginal effects need each factor of an interaction on its own
    variables: pd.DataFrame | None = None
    # what one row is, in words: "decisions", or "judge-quarters" for the first stage's panel
    # (the fragility notes and the report count rows in this unit)
    unit: str = "decisions"

    @property
    def y(self) -> np.ndarray:
        return self.data[self.spec.outcome].to_numpy(dtype=float)

    @property
    def X(self) -> np.ndarray:
        return self.data[[column_for(t) for t in self.terms]].to_numpy(dtype=float)

    def fe_codes(self) -> np.ndarray:
        """Integer codes of each fixed effect, shape (n, n_fe)."""
        return np.column_stack([pd.factorize(self.data[c])[0] for c in self.fe_columns]) \
            if self.fe_columns else np.zeros((len(self.data), 0), dtype=int)


def _fe_column(frame: pd.DataFrame, fe: str) -> pd.Series:
    parts = fe.split("^")
    missing = [p for p in parts if p not in frame.columns]
    if missing:
        raise KeyError(missing[0])
    if len(parts) == 1:
        return frame[fe].astype("string")
    # an interaction as integer codes of the level pairs: equal levels get equal codes, and no
    # string is built per row (string concatenation cost seconds per fit at national size)
    codes = np.zeros(len(frame), dtype=np.int64)
    missing = np.zeros(len(frame), dtype=bool)
    for p in parts:
        part, levels = pd.factorize(frame[p], use_na_sentinel=True)
        missing |= part < 0
        codes = codes * (len(levels) + 1) + part
    codes = pd.Series(pd.factorize(codes)[0], index=frame.index, dtype="Int64")
    return codes.mask(missing)


def _exclusion_text(column: str, values) -> str:
    return f"no {column}" if values == "all" else f"{column} not in {', '.join(values)}"


def _end_and_exclusions(frame: pd.DataFrame, spec: ModelSpec) -> list[tuple[str, pd.Series]]:
    """(reason, rows kept) for a model's end date and its exclusions by column value.

    A row without a decision date cannot be placed before the end date and is left out. An
    exclusion column the data do not hold is read as null everywhere (contract section 1: the
    column is nullable), so it leaves nothing out; the design check that uses it says so.
    """
    masks = []
    if spec.end is not None:
        dates = frame["decision_date"]
        masks.append((f"decided on or after {spec.end} or no decision date",
                      (dates < pd.Timestamp(spec.end)).fillna(False).astype(bool)))
    for col, values in spec.exclude.items():
        if col not in frame.columns:
            continue
        present = frame[col].notna()
        hit = present if values == "all" else present & frame[col].astype("string").isin(values)
        which = "any value" if values == "all" else ", ".join(values)
        masks.append((f"excluded by {col}: {which}", ~hit.astype(bool)))
    return masks


def fe_name(fe: str) -> str:
    return fe.replace("^", "_x_")


def build_design(frame: pd.DataFrame, spec: ModelSpec, *, cluster: str = "judge_id",
                 outcome: str | None = None, unit: str = "decisions") -> Design:
    """Apply the sample filters, build the term columns and drop rows with missing inputs.

    ``outcome`` overrides the spec's outcome column (used to fit expected outcomes); ``unit``
    names what one row of ``frame`` is.
    """
    from fairness_audit.errors import NotEstimable

    y_col = outcome or spec.outcome
    excluded: dict[str, int] = {}
    keep = pd.Series(True, index=frame.index)
    for name in spec.sample:
        sample_filter = SAMPLE_FILTERS[name]
        mask = sample_filter.keep(frame).fillna(False).astype(bool)
        dropped = int((keep & ~mask).sum())
        if dropped:
            excluded[sample_filter.reason] = excluded.get(sample_filter.reason, 0) + dropped
        keep &= mask
        if not keep.any() and dropped:
            raise NotEstimable(sample_filter.needs or y_col,
                               f"no rows left for the {spec.outcome} model after the sample "
                               f"filter '{name}' ({excluded})")
    for reason, mask in _end_and_exclusions(frame, spec):
        dropped = int((keep & ~mask).sum())
        if dropped:
            excluded[reason] = excluded.get(reason, 0) + dropped
        keep &= mask
    if not keep.any():
        raise NotEstimable(y_col, f"no rows left for the {spec.outcome} model after its end date "
                                  f"and exclusions ({excluded})")
    cluster = spec.cluster or cluster
    # the sample's rows of the columns the design reads only: of every column of the frame
    # (some sixty) they cost more than a second a model at national size
    used = [y_col, *(p for t in spec.terms for p in t.split(":")),
            *(p for fe in spec.fixed_effects for p in fe.split("^")), cluster]
    rows = frame.loc[keep, [c for c in dict.fromkeys(used) if c in frame.columns]]

    columns: dict[str, pd.Series] = {y_col: rows[y_col].astype("float64")}
    for term in spec.terms:
        parts = term.split(":")
        for p in parts:
            if p not in rows.columns:
                raise NotEstimable(p, f"term '{term}' of the {spec.outcome} model")
        value = rows[parts[0]].astype("float64")
        for p in parts[1:]:
            value = value * rows[p].astype("float64")
        columns[column_for(term)] = value
    fe_cols = []
    for fe in spec.fixed_effects:
        try:
            columns[fe_name(fe)] = _fe_column(rows, fe)
        except KeyError as exc:
            raise NotEstimable(str(exc.args[0]), f"fixed effect '{fe}'") from None
        fe_cols.append(fe_name(fe))
    if cluster not in columns:
        columns[cluster] = rows[cluster].astype("string")
    # without copying or consolidating the columns (copy-on-write keeps them apart from the
    # frame's), and one filter for every missing value, counted column by column in order
    data = pd.DataFrame(columns, copy=False)
    complete = np.ones(len(data), dtype=bool)
    for col in list(data.columns):
        missing = data[col].isna().to_numpy() & complete
        n = int(missing.sum())
        if n:
            label = term_for(str(col)) if col != y_col else col
            excluded[f"missing {label}"] = excluded.get(f"missing {label}", 0) + n
            complete &= ~missing
    if not complete.all():
        data = data.loc[complete]
    if len(data) == 0:
        first_missing = next((k for k in excluded if k.startswith("missing ")), None)
        raise NotEstimable(first_missing[len("missing "):] if first_missing else y_col,
                           f"no rows left for the {spec.outcome} model ({excluded})")
    filter_text = " & ".join(spec.sample) if spec.sample else "all decisions"
    if spec.end is not None:
        filter_text += f" & decided before {spec.end}"
    for col, values in spec.exclude.items():
        filter_text += f" & {_exclusion_text(col, values)}"
    names = list(dict.fromkeys(p for t in spec.terms for p in t.split(":")))
    variables = pd.DataFrame({p: rows.loc[data.index, p].astype("float64") for p in names},
                             index=data.index)
    return Design(spec, data, tuple(spec.terms), tuple(fe_cols), cluster, excluded, filter_text,
                  variables, unit)

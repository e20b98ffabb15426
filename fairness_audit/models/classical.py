"""Classical (iid) least-squares inference of a linear fit, from its partialled-out cross-products.

Why: the omitted-variable sensitivity (``sensitivity/omitted_variable.py``, Cinelli and Hazlett
2020) is stated in partial R2s, which are read off the classical t statistic: t^2 / (t^2 + df) is
the share of the outcome's residual variance the term explains only when t uses the classical
residual variance RSS / df. The audit's tests use judge-clustered errors; this module keeps the
classical ones apart, for that use alone.

By Frisch-Waugh-Lovell, once the fixed effects are swept out of the outcome and the regressors,
every least-squares quantity of the model, and of the regression of one regressor on the others
(the sensitivity's treatment regression, same fixed effects), follows from the (k + 1) x (k + 1)
matrix of cross-products of the swept outcome and regressors, with the number of decisions and
of fixed-effect parameters. The fit step (``models/regression.py``) keeps that small matrix; no
second pass over the decisions is needed for either regression.

Cell-mean fits (``models/cells.py``): every regressor and fixed effect is constant within a cell,
so the swept regressors are too, and the cross-products over decisions are the cells'
cross-products weighted by their sizes. The one exception is the outcome's own sum of squares,
which also holds the spread of the outcome within cells: that within-cell sum of squares is
added to it (``cells.within_cell_sum_of_squares``), which makes the matrix exactly the one the
decisions give.

Degrees of freedom: decisions - regressors - fixed-effect parameters, the parameters counted as
pyfixest and fixest count them for iid errors (the levels of each fixed effect, less one for
each fixed effect after the first; 1, the intercept, without fixed effects). Levels that are
redundant beyond that (fixed effects that split the data into unconnected groups) are not
subtracted, as in pyfixest.

Example
-------
>>> y = np.array([1.0, 2.0, 2.0, 4.0]); X = np.array([[0.0], [1.0], [0.0], [1.0]])
>>> cp = CrossProducts.from_swept(y - y.mean(), X - X.mean(), ("x",), n_obs=4, fe_parameters=1)
>>> round(float(cp.params()["x"]), 6), cp.df_resid
(1.5, 2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def fe_parameter_count(levels: list[int] | tuple[int, ...]) -> int:
    """Fixed-effect parameters of a model whose fixed effects have ``levels`` levels each
    (pyfixest's and fixest's iid count: all levels, less one per fixed effect after the first;
    1 for the intercept when there is none)."""
    if not levels:
        return 1
    return int(sum(levels)) - (len(levels) - 1)


@dataclass(frozen=True, eq=False)
class CrossProducts:
    """The cross-products of a linear fit's outcome and regressors, fixed effects swept out.

    ``matrix[0, 0]`` is the swept outcome's sum of squares, ``matrix[0, 1:]`` its products with
    the swept regressors ``terms`` (in order), ``matrix[1:, 1:]`` the regressors' own; sums over
    the decisions fitted (``n_obs``). ``fe_parameters`` counts the parameters the sweep stands for.
    """

    terms: tuple[str, ...]
    matrix: np.ndarray
    n_obs: int
    fe_parameters: int
    outcome: str = "outcome"

    @classmethod
    def from_swept(cls, y: np.ndarray, X: np.ndarray, terms: tuple[str, ...], *, n_obs: int,
                   fe_parameters: int, weights: np.ndarray | None = None,
                   within_ss: float = 0.0, outcome: str = "outcome") -> CrossProducts:
        """From the swept outcome ``y`` and regressors ``X`` (rows: decisions, or cells with
        their sizes as ``weights``); ``within_ss``, the outcome's sum of squares around its cell
        means, completes the outcome's own sum of squares on cells."""
        M = np.column_stack([np.asarray(y, dtype=float).reshape(-1), np.asarray(X, dtype=float)])
        w = np.ones(len(M)) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
        S = M.T @ (M * w[:, None])
        S[0, 0] += float(within_ss)
        return cls(tuple(terms), S, int(n_obs), int(fe_parameters), outcome)

    @property
    def df_resid(self) -> int:
        """Residual degrees of freedom: decisions - regressors - fixed-effect parameters."""
        return self.n_obs - len(self.terms) - self.fe_parameters

    def _solve(self) -> tuple[np.ndarray, np.ndarray]:
        XtX, Xty = self.matrix[1:, 1:], self.matrix[1:, 0]
        # the engines drop collinear regressors before this is built; a fit without fixed
        # effects does not, and an inverse of a singular matrix is not always an error in numpy
        if np.linalg.matrix_rank(XtX) < len(self.terms):
            raise np.linalg.LinAlgError(f"the regressors {', '.join(self.terms)} are collinear "
                                        f"once the fixed effects are swept out")
        inv = np.linalg.inv(XtX)
        return inv, inv @ Xty

    def params(self) -> pd.Series:
        """Least-squares coefficients of the regressors."""
        return pd.Series(self._solve()[1], index=list(self.terms))

    def rss(self) -> float:
        """Residual sum of squares."""
        beta = self._solve()[1]
        return float(self.matrix[0, 0] - self.matrix[1:, 0] @ beta)

    def cov(self) -> pd.DataFrame:
        """Classical covariance: RSS / df x (X'X)^-1 of the swept regressors."""
        inv, _ = self._solve()
        return pd.DataFrame(self.rss() / self.df_resid * inv, index=list(self.terms),
                            columns=list(self.terms))

    def std_error(self, term: str) -> float:
        """Classical standard error of ``term``."""
        return float(np.sqrt(self.cov().loc[term, term]))

    def t_value(self, term: str) -> float:
        """Classical t statistic of ``term``."""
        return float(self.params()[term]) / self.std_error(term)

    def regression_of(self, term: str) -> CrossProducts:
        """The regression of regressor ``term`` on the other regressors, with the same fixed
        effects and decisions (Cinelli and Hazlett's treatment regression): its own
        cross-products, read from these."""
        j = 1 + self.terms.index(term)
        order = [j] + [i for i in range(1, len(self.terms) + 1) if i != j]
        others = tuple(t for t in self.terms if t != term)
        return CrossProducts(others, self.matrix[np.ix_(order, order)], self.n_obs,
                             self.fe_parameters, term)

"""What every impact estimator returns: one result convention, defined here once.

Every result (fixed-effects regression, TWFE, staggered DiD and its aggregations, synthetic
control, synthetic DiD, augmented SC, randomisation inference, mixed model, drivers) derives from
:class:`ImpactResult` and offers:

``tidy()``
    A DataFrame with one row per estimate and, first and always, the columns of
    :data:`TIDY_COLUMNS` (broom's names with underscores, as pyfixest's ``tidy()`` in spirit):

    ============  ==========================================================================
    term          what is estimated (a regressor, ``ATT``, ``ATT(2006,2007)``, ``event_time=2``)
    estimate      the point estimate
    std_error     its standard error (NaN when the method gives none, e.g. placebo inference)
    statistic     ``estimate / std_error`` (t or z; NaN without a standard error)
    p_value       two-sided p-value of ``estimate = 0`` under the result's inference
    conf_low      lower bound of the ``1 - alpha`` interval
    conf_high     upper bound
    ============  ==========================================================================

    followed by any columns particular to the method (``cohort``, ``p_value_wild``, ...).
``summary()``
    A :class:`Summary`: text in a terminal (``print(res.summary())``), an HTML table in
    JupyterLab (``_repr_html_``).
``estimate``, ``std_error``, ``p_value``, ``conf_int``
    The headline effect (the row :attr:`ImpactResult.headline` of ``tidy()``, the first row
    unless a result says otherwise): a float each, ``conf_int`` a ``(low, high)`` tuple.
``coef``
    Every estimate by term (a Series, pyfixest's ``Feols.coef()``).
``n_obs``
    The number of observations (rows) the estimate uses.
``with_inference(**options)``
    A copy with other inference (another variance estimator, number of permutations or
    bootstrap draws) without re-estimating the point estimates, where the method allows it;
    otherwise it raises :class:`~ucc_research.errors.SpecError` and the class docstring says why.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError

#: The first columns of every result's ``tidy()`` (see the module docstring).
TIDY_COLUMNS = ("term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high")


def tidy_frame(rows: pd.DataFrame | dict[str, Any]) -> pd.DataFrame:
    """``rows`` with the :data:`TIDY_COLUMNS` first (missing ones NaN, ``statistic`` computed).

    >>> t = tidy_frame({"term": ["x"], "estimate": [2.0], "std_error": [0.5], "n": [7]})
    >>> t.columns.tolist()
    ['term', 'estimate', 'std_error', 'statistic', 'p_value', 'conf_low', 'conf_high', 'n']
    >>> float(t.loc[0, "statistic"])
    4.0
    """
    out = pd.DataFrame(rows).reset_index(drop=True)
    if "term" not in out or "estimate" not in out:
        raise SpecError("a tidy table needs at least the columns 'term' and 'estimate'")
    for col in TIDY_COLUMNS:
        if col not in out:
            out[col] = np.nan
    if out["statistic"].isna().all():
        se = out["std_error"].astype(float)
        out["statistic"] = np.where(se > 0, out["estimate"].astype(float) / se, np.nan)
    return out[list(TIDY_COLUMNS) + [c for c in out.columns if c not in TIDY_COLUMNS]]


class Summary(str):
    """A result's summary: a title, a few lines about the method and sample, and its table.

    It is the text itself (a ``str``: ``print``, ``in`` and string methods work as on text) and
    renders as an HTML table in Jupyter (``_repr_html_``).

    >>> s = Summary("OLS", ["N = 3"], pd.DataFrame({"term": ["x"], "estimate": [1.0]}))
    >>> print(s)
    OLS
    N = 3
    term  estimate
       x    1.0000
    >>> "N = 3" in s, s._repr_html_().startswith("<div><strong>OLS</strong>")
    (True, True)
    """

    title: str
    lines: list[str]
    table: pd.DataFrame | None

    def __new__(cls, title: str, lines: list[str], table: pd.DataFrame | None = None) -> Summary:
        text = ""
        if table is not None and not table.empty:
            text = table.to_string(index=False, float_format=lambda v: f"{v:.4f}")
        obj = super().__new__(cls, "\n".join(p for p in [title, *lines, text] if p))
        obj.title, obj.lines, obj.table = title, list(lines), table
        return obj

    def __repr__(self) -> str:
        return str.__str__(self)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines)
        table = ""
        if self.table is not None and not self.table.empty:
            table = self.table.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0)
        return (
            f"<div><strong>{html.escape(self.title)}</strong>"
            f"{f'<ul>{items}</ul>' if items else ''}{table}</div>"
        )


class ImpactResult:
    """Base class of the impact models' results: the convention of the module docstring.

    Subclasses implement :meth:`_tidy` (rows with at least ``term`` and ``estimate``),
    :meth:`_summary_lines` and :meth:`plot`, and set ``n_obs`` and ``alpha``; everything else
    (``tidy``, ``summary``, ``estimate``, ``std_error``, ``p_value``, ``conf_int``, ``coef``, the
    text and HTML renderings) is shared.
    """

    #: The title of :meth:`summary`.
    title = "Impact estimate"
    #: Which row of ``tidy()`` is the headline effect (``estimate``, ``p_value``, ...).
    headline = 0

    def _tidy(self) -> pd.DataFrame:  # pragma: no cover - interface
        raise NotImplementedError

    def _summary_lines(self) -> list[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def tidy(self) -> pd.DataFrame:
        """One row per estimate: :data:`TIDY_COLUMNS`, then the method's own columns."""
        return tidy_frame(self._tidy())

    def summary(self) -> Summary:
        """The method, inference and sample, and the tidy table (text or HTML)."""
        return Summary(self.title, self._summary_lines(), self.tidy())

    def with_inference(self, **options: Any) -> ImpactResult:
        """A copy with other inference; see the result class for the options it takes."""
        raise SpecError(
            f"{type(self).__name__} cannot change its inference after fitting "
            "(see its docstring); estimate again with other options"
        )

    def _headline_row(self) -> pd.Series:
        return self.tidy().iloc[self.headline]

    @property
    def estimate(self) -> float:
        """The headline point estimate."""
        return float(self._headline_row()["estimate"])

    @property
    def std_error(self) -> float:
        """The headline estimate's standard error (NaN if the method gives none)."""
        return float(self._headline_row()["std_error"])

    @property
    def p_value(self) -> float:
        """The headline estimate's two-sided p-value."""
        return float(self._headline_row()["p_value"])

    @property
    def conf_int(self) -> tuple[float, float]:
        """The headline estimate's ``1 - alpha`` interval."""
        row = self._headline_row()
        return float(row["conf_low"]), float(row["conf_high"])

    @property
    def coef(self) -> pd.Series:
        """Every estimate by term (as pyfixest's ``Feols.coef()``)."""
        tab = self.tidy()
        return pd.Series(tab["estimate"].to_numpy(float), index=tab["term"], name="estimate")

    def __str__(self) -> str:
        return str(self.summary())

    def __repr__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

"""What every impact estimator returns: a result with a tidy table, a summary and a plot."""

from __future__ import annotations

from typing import Any

import pandas as pd


class ImpactResult:
    """Base class of the impact models' results (pyfixest-style).

    Subclasses implement :meth:`tidy` (one row per estimate: ``term``/``estimate``/``se``/
    ``ci_low``/``ci_high`` and whatever identifies the estimate), :meth:`summary` (a short text
    that names the method, the inference convention and the sample) and :meth:`plot`.
    """

    def tidy(self) -> pd.DataFrame:  # pragma: no cover - interface
        raise NotImplementedError

    def summary(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.summary()

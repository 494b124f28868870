"""Step 1: denominate (COINr ``Denominate``): divide extensive indicators by a size variable."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ucc_research.errors import SpecError


def denominate(
    data: pd.DataFrame,
    meta: pd.DataFrame,
    *,
    denoms: pd.DataFrame,
    denomby: Mapping[str, str] | None = None,
    scale: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Divide indicators by their denominators: ``x / (denominator / scale)``.

    Parameters
    ----------
    data : DataFrame
        Indicator values (rows = units).
    meta : DataFrame
        Validated iMeta; its ``Denominator`` column is used unless ``denomby`` is given.
    denoms : DataFrame
        Denominator columns, same index as ``data``.
    denomby : mapping iCode -> denominator column, optional
        Overrides iMeta's ``Denominator``.
    scale : mapping iCode -> float, optional
        COINr's ``ScaleFactor`` (default 1).

    Returns
    -------
    (DataFrame, dict)
        Denominated data and a record ``{"denominated": {iCode: denominator}}``.

    Examples
    --------
    Validated iMeta holds ``None`` (not NaN) where an indicator has no denominator:

    >>> m = pd.DataFrame({"Denominator": ["Pop", None]}, index=["a", "b"], dtype=object)
    >>> x = pd.DataFrame({"a": [10.0, 20.0], "b": [1.0, 2.0]})
    >>> out, rec = denominate(x, m, denoms=pd.DataFrame({"Pop": [2.0, 4.0]}))
    >>> out["a"].tolist(), out["b"].tolist(), rec
    ([5.0, 5.0], [1.0, 2.0], {'denominated': {'a': 'Pop'}})
    """
    if denomby is None:
        if "Denominator" not in meta.columns:
            return data.copy(), {"denominated": {}}
        denomby = {
            c: d for c, d in meta["Denominator"].items() if d is not None and c in data.columns
        }
    scale = dict(scale or {})
    out = data.copy()
    done = {}
    for code, den in denomby.items():
        if code not in data.columns:
            raise SpecError(f"denominate: {code!r} is not an indicator column")
        if den not in denoms.columns:
            raise SpecError(f"denominate: denominator {den!r} of {code!r} is not a column of iData")
        d = denoms[den].to_numpy(dtype=float) / float(scale.get(code, 1.0))
        zero = d == 0
        if zero.any():
            units = data.index[zero].tolist()
            raise SpecError(f"denominate: denominator {den!r} of {code!r} is zero for {units}")
        out[code] = data[code].to_numpy(dtype=float) / d
        done[code] = den
    unknown = set(scale) - set(done)
    if unknown:
        raise SpecError(f"denominate: scale given for {sorted(unknown)}, which are not denominated")
    return out, {"denominated": done}

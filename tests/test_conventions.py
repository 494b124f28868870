"""Package-wide conventions (issue "One convention across the package"): errors, warnings."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pandas as pd
import pytest

from ucc_research import errors

PACKAGE = Path(__file__).resolve().parents[1] / "ucc_research"


def test_every_package_error_is_a_value_error():
    for cls in (errors.SpecError, errors.DataFileError, errors.AnalysisError, errors.StudyError):
        assert issubclass(cls, ValueError), cls
    with pytest.raises(ValueError, match="unknown preset"):  # caught as users catch pandas'
        from ucc_research.indicators.presets import preset

        preset("no_such_preset")


def test_package_warnings_are_one_class():
    from ucc_research.impact import synthetic_control

    years = range(2000, 2010)
    rows = [(u, y, lvl + 0.1 * (y - 2000) + (0.5 if u == "T" and y >= 2006 else 0), g)
            for u, lvl, g in [("T", 1.0, 2006), ("A", 0.5, 0), ("B", 1.5, 0), ("C", 1.2, 2003)]
            for y in years]  # fmt: skip
    df = pd.DataFrame(rows, columns=["unit", "year", "y", "first"])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        synthetic_control(df, "y", "unit", "year", treated="T", treatment_time=2006,
                          donors=["A", "B", "C"], adoption="first", placebo=False, seed=0)  # fmt: skip
    ours = [w for w in seen if issubclass(w.category, errors.UccWarning)]
    assert ours, [w.category for w in seen]  # C is a treated donor: one UccWarning


def _warn_category(call: ast.Call) -> str | None:
    """The category a ``warnings.warn(...)`` call names ("UserWarning" when it names none)."""
    category = call.args[1] if len(call.args) > 1 else None
    for kw in call.keywords:
        if kw.arg == "category":
            category = kw.value
    if category is None:
        return "UserWarning"
    return category.id if isinstance(category, ast.Name) else ast.unparse(category)


def test_no_assertion_error_or_bare_userwarning_in_production_code():
    for path in PACKAGE.rglob("*.py"):
        where = path.relative_to(PACKAGE)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Name) and node.id == "AssertionError":
                raise AssertionError(f"{where}:{node.lineno}: AssertionError")
            assert not isinstance(node, ast.Assert), f"{where}:{node.lineno}: assert"
            func = getattr(node, "func", None)
            if isinstance(node, ast.Call) and getattr(func, "attr", None) == "warn":
                assert _warn_category(node) == "UccWarning", f"{where}:{node.lineno}"


def test_the_curated_top_level_api_is_the_subpackages_own_functions():
    import ucc_research
    from ucc_research import impact, indicators
    from ucc_research.reports.study import load_study

    assert ucc_research.staggered_did is impact.staggered_did
    assert ucc_research.build is indicators.build
    assert ucc_research.load_study is load_study
    assert set(ucc_research._API) <= set(dir(ucc_research))  # tab completion offers them
    for name in ucc_research._API:  # every public name is documented
        assert (getattr(ucc_research, name).__doc__ or "").strip(), name

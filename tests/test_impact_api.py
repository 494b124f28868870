"""The public names of ``ucc_research.impact`` stay functions once their modules are imported."""

import importlib

import pytest

import ucc_research.impact as impact


def test_every_export_is_a_callable_even_after_its_module_is_imported():
    for module in set(impact._EXPORTS.values()):
        importlib.import_module(module)  # a submodule named like an export would shadow it here
    for name in impact.__all__:
        obj = getattr(impact, name)
        assert callable(obj) and not isinstance(obj, type(impact)), name


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_estimator"):
        impact.no_such_estimator  # noqa: B018


def test_tab_completion_offers_the_lazy_exports():
    import ucc_research.impact as impact

    names = dir(impact)
    assert {"staggered_did", "synthetic_did", "choose_synth_unit"} <= set(names)
    assert all(callable(getattr(impact, n)) for n in impact.__all__)

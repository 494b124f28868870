"""Reports: studies, parameterised notebooks run per city by papermill, and HTML rendering.

- :mod:`~ucc_research.reports.study`: ``studies/<name>.yml`` parsed and validated;
- :mod:`~ucc_research.reports.runner`: ``ucc run`` (process pool or Dask, resumable, atomic);
- :mod:`~ucc_research.reports.notebook`: parameter checks, papermill execution, HTML export;
- :mod:`~ucc_research.reports.shared`: study-level analyses computed once per study;
- :mod:`~ucc_research.reports.sections`: the report sections the notebooks call.
"""

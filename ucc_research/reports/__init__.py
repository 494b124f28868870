"""Reports: the study-level analyses, the report sections the notebooks call, and the batch runner.

The flow, one module per step:

- :mod:`~ucc_research.reports.study`: study files (which data, framework, notebooks, cities).
- :mod:`~ucc_research.reports.shared`: study-level analyses computed once and cached.
- :mod:`~ucc_research.reports.context`: what every report cell shares (study, cache, names).
- :mod:`~ucc_research.reports.city`, :mod:`~.what_works`, :mod:`~.transfer`, :mod:`~.robustness`,
  :mod:`~.quality`: one function per report section, each returning what one cell shows.
- :mod:`~ucc_research.reports.official`: the published scores, reproduced by their rule.
- :mod:`~ucc_research.reports.display`: tables, figures and sentences as escaped HTML.
- :mod:`~ucc_research.reports.analysis`: small tested computations behind the sections.
- :mod:`~ucc_research.reports.runner`, :mod:`~.notebook`, :mod:`~.html`, :mod:`~.index`: ``ucc
  run``: papermill per report, the reviewers' HTML and the study's index page.
"""

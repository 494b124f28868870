"""See the package docstring of ucc_research."""

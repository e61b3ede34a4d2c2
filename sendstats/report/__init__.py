"""What the ``.qmd`` reports call: sections, figures, narratives, tables, charts, pages.

Reads built tables from the data folder. May import core, acquire (manifest, catalog),
geography, metrics and benchmarking; never sources, the pipeline or render.
"""

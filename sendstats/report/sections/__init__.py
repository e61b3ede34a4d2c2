"""Report sections by theme: what a profile's ``.qmd`` calls for one section, beyond ``report``.

Each module holds one theme's narrative paragraph and figures for the LA profile, built on the
shared helpers of :mod:`sendstats.report.profile` (context, trend data, charts, source notes), so
the
``.qmd`` keeps no logic of its own.
"""

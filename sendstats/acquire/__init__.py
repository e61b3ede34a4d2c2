"""Acquire raw files: declarations, fetch, download, raw archives, pins, the manifest.

The lowest data layer: may import only :mod:`sendstats.core`. Nothing here reads the contents
of a publication; the sources do, from the paths the pipeline hands them.
"""

"""Render Quarto documents, with Quarto itself or with sendstats' fallback renderer.

One document or a batch (one kernel per worker). May import core, acquire, geography and
report; never sources or the pipeline.
"""

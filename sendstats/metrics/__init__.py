"""Metric registry and metric computations, one module per theme."""

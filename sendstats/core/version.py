"""The sendstats version: recorded in the manifest and part of every step's fingerprint."""

__version__ = "0.1.0"

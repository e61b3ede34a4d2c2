"""Core helpers every layer may use: data locations, safe writes and the lock, rounding.

``config`` says where data lives, ``io`` writes atomically and holds the data lock, ``numbers``
rounds the way publishers round. Imports nothing else from sendstats.
"""

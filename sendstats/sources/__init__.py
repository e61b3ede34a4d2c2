"""Per-source readers: each module declares raw and tidy schemas, ``read_raw`` and ``tidy``."""

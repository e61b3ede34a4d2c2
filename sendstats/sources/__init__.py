"""One reader per source, all of one shape; and the readers they share.

Each source module ``sendstats.sources.<source_id>`` exposes the same two functions:

- ``required_files() -> [(release, file)]``: the declared files it reads;
- ``tidy(paths) -> frame`` (or ``(frame, read log)``): ``paths`` maps ``(release, file)`` to
  ``(local path, sha256)``, already fetched and verified by the pipeline.

and a pandera model of its tidy table built on :class:`sendstats.sources.base.TidyBase`.
Sources read only the paths they are given (they never fetch: import-linter forbids
``sendstats.acquire`` here) and hold no metric maths.

May import core and geography.
"""

"""Provenance manifest: ``<data>/manifest.json`` records every input fetched and output built.

Inputs are the pinned raw files of the source declarations (for example the DfE "Education,
health and care plans" release files): where each came from, its sha256 and size, and by which
route it reached the cache. Outputs are the tidy and metric tables: which step wrote them, from
which inputs, how many rows, their sha256, and the sendstats version and git commit that made
them. Charts and tables build their source notes from it, so it must never claim what did not
happen: entries are written only after the file they describe is complete and verified.

Writes are read-modify-write under ``sendstats.core.lock.data_lock`` and land through a temp
file and rename, so two processes never lose each other's entries and a crash never leaves a
torn file.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sendstats.core import config
from sendstats.core.io import StorageError, atomic_write_text, sha256_file
from sendstats.core.lock import data_lock
from sendstats.core.version import __version__, library_versions

if TYPE_CHECKING:
    from sendstats.acquire.cache import FetchResult

FORMAT_VERSION = 1


class ManifestError(RuntimeError):
    """The manifest is unreadable, or an entry would claim something that did not happen."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _empty() -> dict[str, Any]:
    return {"format": FORMAT_VERSION, "inputs": {}, "outputs": {}}


def input_id(source: str, release: str, name: str) -> str:
    """Return the id of an input file in the manifest: ``<source>/<release>/<name>``."""
    return f"{source}/{release}/{name}"


def load_manifest() -> dict[str, Any]:
    """Return the manifest as a dict with ``inputs`` and ``outputs`` (empty if none yet).

    Raises:
        ManifestError: if the file exists but is not a manifest.

    """
    path = config.manifest_path()
    if not path.exists():
        return _empty()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest: {exc}") from exc
    if not isinstance(data, dict) or not {"inputs", "outputs"} <= data.keys():
        raise ManifestError(f"{path}: not a sendstats manifest (no 'inputs' and 'outputs')")
    return data


def _without_stamps(manifest: Mapping[str, Any]) -> dict[str, Any]:
    inputs = {
        key: {k: v for k, v in entry.items() if k != "verified"}
        for key, entry in manifest.get("inputs", {}).items()
    }
    return {**manifest, "inputs": inputs}


def _update(mutate: Callable[[dict[str, Any]], None]) -> None:
    """Read, change and write the manifest under the data lock.

    In a data folder that cannot be written, a change that only stamps ``verified`` on inputs
    already recorded is dropped (a run that only reads needs no write); any other change raises
    the :class:`~sendstats.core.io.StorageError`.
    """
    with data_lock():
        manifest = load_manifest()
        mutate(manifest)
        text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        try:
            atomic_write_text(config.manifest_path(), text)
        except StorageError as exc:
            # The write failed whole, so the file still holds what it held before the change
            # (read again only here: no copy of the manifest on every update).
            if exc.read_only and _without_stamps(manifest) == _without_stamps(load_manifest()):
                return
            raise


def _relative_to_data(path: Path) -> str:
    data = config.data_dir()
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(data).as_posix()
    except ValueError:
        raise ManifestError(f"{path}: outputs must live under the data directory {data}") from None


def _input_entry(result: FetchResult, when: str) -> dict[str, Any]:
    try:
        where = _relative_to_data(result.path)
    except ManifestError:
        where = str(result.path)
    return {
        "source": result.source,
        "release": result.release,
        "file": result.name,
        "filename": result.path.name,
        "url": result.url,
        "sha256": result.sha256,
        "bytes": result.bytes,
        "route": result.route,
        "path": where,
        "when": when,
    }


def record_inputs(results: Iterable[FetchResult]) -> None:
    """Record fetched input files (call only with files that are in the cache and verified).

    A cache hit on a file already recorded with the same sha256 keeps the original route and
    time (how the file first reached the cache) and stamps ``verified``. Results that carry a
    new upstream file awaiting a pin bump (``pin_changed``) are not pinned inputs and are skipped.
    """
    items = [r for r in results if not r.pin_changed]
    if not items:
        return
    when = _now()

    def mutate(manifest: dict[str, Any]) -> None:
        inputs = manifest["inputs"]
        for res in items:
            key = input_id(res.source, res.release, res.name)
            old = inputs.get(key)
            if res.route == "cache" and old is not None and old.get("sha256") == res.sha256:
                old["verified"] = when
                continue
            inputs[key] = _input_entry(res, when)

    _update(mutate)


def git_commit() -> str | None:
    """Return the commit of the project checkout, or None outside git (e.g. an installed wheel)."""
    out = _git("rev-parse", "HEAD")
    return out if out and len(out) == 40 else None


def git_dirty() -> bool | None:
    """Return True if tracked files differ from the commit, or None outside git.

    A dirty tree means the commit alone does not say which code made an output.
    """
    return git_dirty_at(git_commit())


def git_dirty_at(commit: str | None) -> bool | None:
    """Return :func:`git_dirty` for a checkout whose commit is known (None: not in git)."""
    if commit is None:
        return None
    out = _git("status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out)


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=config.project_root(),
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


@dataclass(frozen=True)
class OutputRecord:
    """One output file a step has just written completely, to record in the manifest.

    Attributes:
        path: the output, under the data directory.
        step: the step that made it, e.g. ``"tidy:dfe_sen2__ehcp"``.
        inputs: ids of what it read: input ids (``source/release/name``) or the paths of
            earlier outputs (relative to the data directory), each in the manifest already or
            recorded before it in the same call.
        rows: number of rows written, if a table.
        details: what the step wants on record, e.g. rows read, kept and excluded with reasons.

    """

    path: Path
    step: str
    inputs: Sequence[str]
    rows: int | None
    details: Mapping[str, Any] | None = None


def record_output(
    path: Path,
    *,
    step: str,
    inputs: Sequence[str],
    rows: int | None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Record one output file that ``step`` has just written completely.

    See :class:`OutputRecord` for the arguments and :func:`record_outputs` for the checks.
    """
    record_outputs([OutputRecord(Path(path), step, inputs, rows, details)])


def record_outputs(records: Sequence[OutputRecord]) -> None:
    """Record output files in one write of the manifest (a build records all its tables at once).

    The git commit and the library versions are read once for all of them: one build's
    outputs were made by the same code.

    Raises:
        ManifestError: if a file does not exist, lies outside the data directory, or names
            an input the manifest does not hold (the output would claim an unrecorded read).
            Nothing is recorded then.

    """
    if not records:
        return
    commit = git_commit()
    dirty = git_dirty_at(commit)
    libraries = library_versions()
    when = _now()
    entries: list[tuple[OutputRecord, str, dict[str, Any]]] = []
    for rec in records:
        path = Path(rec.path)
        if not path.is_file():
            raise ManifestError(f"{path}: cannot record an output that does not exist")
        key = _relative_to_data(path)
        entry: dict[str, Any] = {
            "path": key,
            "step": rec.step,
            "inputs": list(rec.inputs),
            "rows": rec.rows,
            "sha256": sha256_file(path),
            "bytes": path.stat().st_size,
            "sendstats_version": __version__,
            "libraries": dict(libraries),
            "git_commit": commit,
            "git_dirty": dirty,
            "when": when,
        }
        if rec.details:
            entry["details"] = dict(rec.details)
        entries.append((rec, key, entry))

    def mutate(manifest: dict[str, Any]) -> None:
        known = manifest["inputs"].keys() | manifest["outputs"].keys()
        for rec, key, _ in entries:
            missing = [i for i in rec.inputs if i not in known]
            if missing:
                raise ManifestError(
                    f"{key}: step {rec.step!r} names inputs not in the manifest: "
                    f"{', '.join(missing)} (fetch or build them first)"
                )
            known = known | {key}
        for _, key, entry in entries:
            manifest["outputs"][key] = entry

    _update(mutate)

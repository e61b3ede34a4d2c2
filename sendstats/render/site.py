"""The site layout that ``sendstats report`` and a plain ``quarto render`` both write into.

Layout (under the output folder, ``_site`` by default)::

    index.html, england_overview.html, revisions.html, methods.html   site pages
    figures/*.csv                                                      data behind page charts
    la/<DfE code>-<name>.html, la/figures/*.csv                        LA profiles

Every HTML page gets the same navigation bar, its links relative to the page's own folder, so
the site works from the file system and from any web server. Quarto writes a page to
``_site/reports/<page>.html`` (its output path follows the ``.qmd``'s); run as a script (the
project's ``post-render`` step in ``_quarto.yml``), this module moves each page Quarto wrote to
its place in the layout, the LA profile to ``la/<slug>.html`` for the LA it shows, and adds the
navigation bar. ``sendstats report`` renders from a private copy of the project and places the
page itself, so its renders never touch ``_site/reports``.
"""

from __future__ import annotations

import html
import os
import re
import sys
from pathlib import Path

__all__ = ["NAVBAR", "add_navbar", "place_page", "post_render"]

#: The navigation bar: (page file at the site root, link text), in order.
NAVBAR = (
    ("index.html", "Local authorities"),
    ("england_overview.html", "England overview"),
    ("revisions.html", "Revisions"),
    ("methods.html", "Methods"),
)
PROFILE_FOLDER = "la"

_NAV = re.compile(r'<nav class="site-nav".*?</nav>\n?', re.S)
_BODY = re.compile(r"<body\b[^>]*>\n?")
# The opening line of every LA profile names the LA's DfE code (report.profile.title_block).
_DFE_CODE = re.compile(r"DfE code (\d{3})\b")


def navbar(depth: int) -> str:
    """Return the navigation bar's HTML for a page ``depth`` folders below the site root."""
    up = "../" * depth
    links = " ".join(f'<a href="{up}{page}">{html.escape(text)}</a>' for page, text in NAVBAR)
    return f'<nav class="site-nav" aria-label="Site">{links}</nav>\n'


def add_navbar(page: str, depth: int) -> str:
    """Return ``page`` (a whole HTML document) with the site's navigation bar after ``<body>``.

    A bar already there is replaced, so placing a page twice leaves one bar.
    """
    page = _NAV.sub("", page)
    body = _BODY.search(page)
    if body is None:
        raise ValueError("add_navbar needs an HTML document with a <body> tag")
    return page[: body.end()] + navbar(depth) + page[body.end() :]


def place_page(path: Path, site: Path) -> Path:
    """Add the navigation bar to the HTML page at ``path``, a page of the site at ``site``.

    Anything that is not an ``.html`` file (a PDF) is left as it is. Returns ``path``.
    """
    if path.suffix != ".html":
        return path
    depth = len(path.resolve().relative_to(site.resolve()).parts) - 1
    text = add_navbar(path.read_text(encoding="utf-8"), depth)
    tmp = path.with_name(f".{path.name}.nav.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _profile_stem(outputs: list[Path]) -> str:
    """Return the file stem of the LA profile among Quarto's ``outputs`` (``<slug>``).

    The LA is read from the HTML profile's opening line (its DfE code); a PDF rendered
    alone keeps the stem ``la_profile``.
    """
    from sendstats import geography
    from sendstats.geography.describe import profile_slug

    for page in outputs:
        if page.stem == "la_profile" and page.suffix == ".html" and page.is_file():
            found = _DFE_CODE.search(page.read_text(encoding="utf-8", errors="replace"))
            if found is not None:
                return profile_slug(geography.resolve_la(found[1]))
    return "la_profile"


def post_render(site: Path, outputs: list[Path]) -> list[Path]:
    """Move pages Quarto wrote under ``site/reports`` to their place; add the navigation bar.

    ``outputs`` are Quarto's output files (``QUARTO_PROJECT_OUTPUT_FILES``); files elsewhere
    are left alone. Returns where the pages are now.
    """
    placed = []
    quarto_folder = (site / "reports").resolve()
    outputs = [o.resolve() for o in outputs]
    profile = _profile_stem(outputs)
    for output in outputs:
        if output.parent != quarto_folder or not output.is_file():
            continue
        if output.stem == "la_profile":
            target = site / PROFILE_FOLDER / f"{profile}{output.suffix}"
        else:
            target = site / output.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(output, target)
        placed.append(place_page(target, site))
        print(f"sendstats: placed {output.relative_to(site.parent)} at {target}")
    if quarto_folder.is_dir() and not any(quarto_folder.iterdir()):
        quarto_folder.rmdir()
    return placed


def _main() -> int:
    """Quarto's post-render step: place what this render wrote (see the module docstring)."""
    site = Path(os.environ.get("QUARTO_PROJECT_OUTPUT_DIR") or "_site")
    listed = os.environ.get("QUARTO_PROJECT_OUTPUT_FILES", "")
    listing = os.environ.get("QUARTO_USE_FILE_FOR_PROJECT_OUTPUT_FILES")
    if listing:
        listed = Path(listing).read_text(encoding="utf-8")
    outputs = [Path(line) for line in listed.splitlines() if line.strip()]
    post_render(site if site.is_absolute() else Path.cwd() / site, outputs)
    return 0


if __name__ == "__main__":
    # Quarto runs this file as a script from the project root: make that checkout's sendstats
    # the one imported (it is also the installed one after `pip install -e .`).
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    raise SystemExit(_main())

"""The page templates and stylesheet of the fallback renderer (pandoc HTML and typst)."""

CSS = """
:root { color-scheme: light; --ink: #1b1b1b; --muted: #505a5f; --rule: #b1b4b6; --link: #1d4f91; }
html { font-size: 100%; }
body { margin: 0 auto; max-width: 60rem; padding: 1.5rem 1.25rem 3rem; color: var(--ink);
  background: #fff; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  line-height: 1.55; font-size: 1.0625rem; }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.8em 0 0.6em; }
h1.title { margin-top: 0.5em; font-size: 2rem; }
header .date, header .subtitle { color: var(--muted); margin: 0.2em 0; }
a { color: var(--link); text-decoration: underline; text-underline-offset: 0.15em; }
a:focus-visible { outline: 3px solid #fd0; outline-offset: 1px; background: #fd0; color: #0b0c0c; }
nav#TOC { border-left: 4px solid var(--rule); padding: 0.2rem 1rem; margin: 1.5rem 0; }
nav#TOC ul { padding-left: 1.2rem; margin: 0.3rem 0; }
nav#TOC h2 { margin: 0.6em 0 0.3em; font-size: 1.2rem; }
table { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums;
  font-size: 0.95rem; max-width: 100%; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.4rem; }
th, td { padding: 0.35rem 0.7rem; border-bottom: 1px solid var(--rule); text-align: left;
  vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); }
tbody tr:nth-child(even) { background: #f3f2f1; }
figure { margin: 1.5rem 0; }
figcaption { color: var(--muted); font-size: 0.95rem; margin-top: 0.4rem; }
img, svg { max-width: 100%; height: auto; }
pre { background: #f3f2f1; padding: 0.75rem 1rem; overflow-x: auto; font-size: 0.9rem;
  border-left: 3px solid var(--rule); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
blockquote { border-left: 4px solid var(--rule); margin-left: 0; padding-left: 1rem;
  color: var(--muted); }
.callout-note, .callout-warning, .callout-important, .callout-tip, .callout-caution {
  border-left: 5px solid var(--link); background: #f3f7fb; padding: 0.5rem 1rem; margin: 1rem 0; }
.callout-warning, .callout-important, .callout-caution { border-left-color: #d4351c; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  nav#TOC { display: none; }
  a { color: inherit; }
  figure, table, pre { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  .page-break { break-after: page; }
}
"""

HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="$lang$">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="sendstats fallback renderer (pandoc)">
$if(date-meta)$<meta name="dcterms.date" content="$date-meta$">
$endif$<title>$pagetitle$</title>
<style>/*CSS*/
$if(highlighting-css)$$highlighting-css$$endif$
</style>
</head>
<body>
<header id="title-block-header">
$if(title)$<h1 class="title">$title$</h1>
$endif$$if(subtitle)$<p class="subtitle">$subtitle$</p>
$endif$$for(author)$<p class="author">$author$</p>
$endfor$$if(date)$<p class="date">$date$</p>
$endif$</header>
$if(toc)$<nav id="TOC" role="doc-toc" aria-labelledby="toc-title">
<h2 id="toc-title">$toc-title$</h2>
$table-of-contents$
</nav>
$endif$<main>
$body$
</main>
</body>
</html>
"""

TYPST_TEMPLATE = """#let horizontalrule = line(start: (25%, 0%), end: (75%, 0%),
  stroke: 0.5pt + luma(60%))
#let fitimage(path, alt: none) = layout(size => {
  let img = image(path, alt: alt)
  if measure(img).width > size.width { image(path, alt: alt, width: 100%) } else { img }
})
$if(title)$#set document(title: [$title$])
$endif$#set page(paper: "$papersize$", margin: (x: 2.2cm, top: 2.2cm, bottom: 2.6cm),
  footer: context {
  set text(size: 8pt, fill: luma(30%))
  [$if(title)$$title$ · $endif$$footer-date$]
  h(1fr)
  [Page #counter(page).display() of #counter(page).final().first()]
})
#set text(lang: "$typst-lang$", region: "$typst-region$", size: 10.5pt)
#set par(justify: false, leading: 0.7em)
$if(section-numbering)$#set heading(numbering: "1.1")
$endif$#show heading: set block(above: 1.4em, below: 0.8em)
// Long tables (the summary, the data dictionary) flow across pages instead of overflowing one.
#show figure.where(kind: table): set block(breakable: true)
#show table: set text(size: 9pt)
#set table(inset: 5pt, stroke: (x, y) => if y == 0 { (bottom: 0.8pt) } else {
  (bottom: 0.3pt + luma(75%))
})
#show link: set text(fill: rgb("#1d4f91"))
$if(title)$#block(below: 1.2em)[
  #text(size: 1.8em, weight: "bold")[$title$]
$if(subtitle)$  #linebreak() #text(size: 1.2em)[$subtitle$]
$endif$$if(date)$  #linebreak() #text(fill: luma(30%))[$date$]
$endif$]
$endif$$if(toc)$#outline(title: [$toc-title$], depth: $toc-depth$)
$endif$
$body$
"""

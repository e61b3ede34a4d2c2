"""The page templates and stylesheet of the fallback renderer (pandoc HTML and typst)."""

from pathlib import Path

#: The site stylesheet, shared with Quarto (``_quarto.yml`` names the same file).
CSS = (Path(__file__).with_name("site.css")).read_text(encoding="utf-8")

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
#show table.cell: it => { show regex("[_/]"): c => c + sym.zws; it }
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

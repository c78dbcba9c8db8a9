// MathJax 3 configuration. Loaded BEFORE assets/mathjax/tex-chtml.js (see
// extra_javascript in mkdocs.yml); MathJax itself is copied into the built site
// by scripts/mkdocs_hooks.py, so nothing is fetched from a CDN.
//
// Only these elements are typeset:
//   arithmatex          - math in Markdown pages (pymdownx.arithmatex, generic mode
//                         turns $...$ / $$...$$ into \(...\) / \[...\])
//   jp-RenderedMarkdown - markdown cells of mkdocs-jupyter notebook pages, where
//                         math stays as $...$ / $$...$$
//   jp-RenderedLatex    - text/latex outputs of notebook cells
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    // ".+" (any non-empty class) rather than Material's ".*|": MathJax tests
    // this against every element below a processed one, and ".*|" also
    // matches elements WITHOUT a class, so the <p> inside a notebook markdown
    // cell would be skipped and its math left as raw TeX.
    ignoreHtmlClass: ".+",
    processHtmlClass: "arithmatex|jp-RenderedMarkdown|jp-RenderedLatex",
  },
};

// Material's instant navigation swaps the page content without reloading the
// scripts; document$ emits once for the first page and again for every page
// reached by instant navigation. MathJax typesets the first page by itself at
// startup, so the first emission is skipped: re-typesetting it would run
// clearCache() after the startup typeset and drop the glyph CSS, leaving the
// formulas invisible. Later pages are re-typeset here, chained on
// startup.promise so the calls never overlap (and so anything awaiting
// MathJax.startup.promise also waits for this typeset).
var mathjaxFirstPage = true;
document$.subscribe(function () {
  if (mathjaxFirstPage) {
    mathjaxFirstPage = false;
    return;
  }
  var mj = window.MathJax;
  if (!mj || !mj.startup || !mj.startup.promise || !mj.typesetPromise) {
    return; // MathJax not started yet: its startup typeset covers this page
  }
  mj.startup.promise = mj.startup.promise.then(function () {
    mj.startup.output.clearCache();
    mj.typesetClear();
    mj.texReset();
    return mj.typesetPromise();
  });
});

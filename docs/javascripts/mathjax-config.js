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
  startup: {
    // After the startup typeset, mark formulas too wide for their line.
    pageReady: function () {
      return MathJax.startup.defaultPageReady().then(markWideMath);
    },
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
    return mj.typesetPromise().then(markWideMath);
  });
});

// An inline formula wider than the text column would make the whole page
// scroll sideways on a phone. Give such a formula (and only such: an
// inline-block with overflow sits a little off the text baseline) its own
// horizontal scroll box, .rnn-wide-math in docs/stylesheets/extra.css.
function markWideMath() {
  var inline = document.querySelectorAll(".md-typeset mjx-container:not([display='true'])");
  inline.forEach(function (c) {
    c.classList.remove("rnn-wide-math");
  });
  inline.forEach(function (c) {
    var box = c.parentElement && c.parentElement.closest("p, li, td, th, div, dd, blockquote");
    if (box && c.getBoundingClientRect().width > box.clientWidth) {
      c.classList.add("rnn-wide-math");
    }
  });
}
var wideMathTimer = null;
window.addEventListener("resize", function () {
  clearTimeout(wideMathTimer);
  wideMathTimer = setTimeout(markWideMath, 100);
});

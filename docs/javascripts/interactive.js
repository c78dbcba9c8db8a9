// The interactive figures (docs/interactive/*.md): each is an element with
// data-rnn-widget="NAME", filled by the ES module interactive/NAME.js, which
// is loaded only on a page that has such an element. Material's instant
// navigation swaps the page content without reloading scripts, so the
// figures are mounted on every emission of document$ (as
// mathjax-config.js typesets), and those of the previous page are dropped.
(function () {
  var base = document.currentScript.src.replace(/[^/]*$/, "interactive/");
  var MODULES = {
    "live-model": "live.js",
    "units": "units.js",
    "bptt-stepper": "bptt.js",
    "gradient-norms": "gradnorm.js",
  };
  var mounted = [];

  function fail(root, err) {
    root.dataset.state = "error";
    var box = document.createElement("div");
    box.className = "rnn-error admonition failure";
    box.setAttribute("role", "alert");
    box.textContent = "This figure could not start: " + (err && err.message ? err.message : err);
    root.prepend(box);
  }

  document$.subscribe(function () {
    mounted.forEach(function (w) {
      if (w && w.destroy) w.destroy();
    });
    mounted = [];
    document.querySelectorAll("[data-rnn-widget]").forEach(function (root) {
      var name = MODULES[root.dataset.rnnWidget];
      if (!name) return fail(root, "unknown figure " + root.dataset.rnnWidget);
      import(base + name).then(function (module) {
        if (root.isConnected) mounted.push(module.mount(root));
      }).catch(function (err) {
        fail(root, err);
      });
    });
  });
})();

// Starts ReDoc on /redoc in the reader's colour scheme, and starts it again when the scheme
// changes, as the dashboard and /docs follow it live. A file, not an inline script, so the
// page's Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  var root = document.getElementById("redoc");
  // ReDoc's own light scheme, but for what is under 4.5:1 in it (measured in Chromium, 418
  // texts): red inline code on its pink box (3.5:1) and the red "error" response tabs on
  // the dark right panel (3.5:1). redoc.css darkens its section labels.
  var light = {
    colors: {
      responses: {
        error: { tabTextColor: "#ff8a80" },
      },
    },
    typography: {
      code: { color: "#b3261e" },
    },
  };
  // ReDoc has no dark scheme of its own, only a theme object: these are the dashboard's dark
  // colours (app.css), each checked at 4.5:1 or more on what is behind it.
  var dark = {
    colors: {
      primary: { main: "#8ab4f8", contrastText: "#10151c" },
      text: { primary: "#e6e9ef", secondary: "#b6bfcc" },
      border: { dark: "#3b4656", light: "#2a3340" },
      responses: {
        success: { color: "#6fdc8c", backgroundColor: "#16261d", tabTextColor: "#6fdc8c" },
        error: { color: "#ff9b8f", backgroundColor: "#2a1a1c", tabTextColor: "#ff9b8f" },
        redirect: { color: "#f5c16c", backgroundColor: "#2a2416", tabTextColor: "#f5c16c" },
        info: { color: "#8ab4f8", backgroundColor: "#172233", tabTextColor: "#8ab4f8" },
      },
    },
    schema: {
      nestedBackground: "#1f2733",
      linesColor: "#566274",
      typeNameColor: "#b6bfcc",
      typeTitleColor: "#b6bfcc",
      requireLabelColor: "#ff9b8f",
      labelsTextSize: "0.9em",
    },
    sidebar: {
      backgroundColor: "#181e27",
      textColor: "#e6e9ef",
      activeTextColor: "#8ab4f8",
    },
    rightPanel: { backgroundColor: "#0b0f15", textColor: "#e6e9ef" },
    typography: {
      code: { color: "#f2b27a", backgroundColor: "#1f2733" },
      links: { color: "#8ab4f8", visited: "#b9a3f5", hover: "#b3cdfb" },
    },
  };
  // ReDoc turns its theme into styles once, when it renders: a new scheme is a new render.
  // The document is fetched once and handed over as an object, so a switch does not fetch it
  // again; ReDoc keeps the section being read in the URL's #hash and opens there again.
  //
  // ReDoc (2.5.3) cannot take back what it rendered: Redoc.init makes a new React root on
  // every call, and Redoc.destroy makes yet another root and unmounts that one. Rendered
  // again in place, each switch left the previous ReDoc alive, its store's window scroll
  // listener, history subscription and search worker included (Chromium: one more worker
  // per switch, tests/browser/test_api_docs.py). So each render goes into an element of its
  // own; the store it mounted (AppStore, one of ReDoc's exports, says so in onDidMount) is
  // disposed of before the next, which removes all three, and the old element leaves the
  // page, so nothing holds its tree.
  var system = window.matchMedia("(prefers-color-scheme: dark)");
  var spec = null;
  var mounted = null;
  var onDidMount = Redoc.AppStore.prototype.onDidMount;
  Redoc.AppStore.prototype.onDidMount = function () {
    mounted = this;
    return onDidMount.apply(this, arguments);
  };
  var render = function () {
    var theme = system.matches ? dark : light;
    var where = spec === null ? root.getAttribute("data-openapi") : spec;
    if (mounted !== null) {
      mounted.dispose();
      mounted = null;
    }
    var pane = document.createElement("div");
    root.removeAttribute("data-scheme"); // set again once this scheme is drawn
    root.replaceChildren(pane);
    Redoc.init(where, { theme: theme }, pane, function () {
      root.setAttribute("data-scheme", system.matches ? "dark" : "light");
    });
  };
  fetch(root.getAttribute("data-openapi"))
    .then(function (answer) {
      return answer.json();
    })
    .then(function (document) {
      spec = document;
    })
    .catch(function () {
      // ReDoc fetches it itself below and shows its own error if that fails too.
    })
    .finally(function () {
      render();
      system.addEventListener("change", render);
    });
})();

// Starts ReDoc on /redoc, in the reader's colour scheme. A file, not an inline script, so the
// page's Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  var root = document.getElementById("redoc");
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
  var scheme = window.matchMedia("(prefers-color-scheme: dark)").matches ? dark : {};
  Redoc.init(root.getAttribute("data-openapi"), { theme: scheme }, root);
})();

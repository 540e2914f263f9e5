// Starts Swagger UI on /docs. A file, not an inline script, so the page's
// Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  // Swagger UI's stylesheet has a dark theme under html.dark-mode (its own toggle is in a
  // top bar HookCast does not show): follow the reader's system, as the dashboard does.
  var dark = window.matchMedia("(prefers-color-scheme: dark)");
  var follow = function () {
    document.documentElement.classList.toggle("dark-mode", dark.matches);
  };
  follow();
  dark.addEventListener("change", follow);
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The public validator at validator.swagger.io would receive the whole document.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    // Swagger UI's default code colours (agate) put numbers at 3.7:1 on its dark code box;
    // nord's all read at 4.5:1 or more (tests/browser/test_api_docs.py).
    syntaxHighlight: { theme: "nord" },
  });
})();

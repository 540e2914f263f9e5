// HookCast dashboard: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  function announce(message) {
    var region = document.getElementById("announcer");
    if (region) { region.textContent = ""; window.setTimeout(function () { region.textContent = message; }, 50); }
  }

  // Copy buttons: <button data-copy="element-id"> copies that element's text.
  function copyText(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = source.textContent.trim();
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      announce("Copied to the clipboard");
      window.setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
    } else {
      selectText(source);
      try { if (document.execCommand("copy")) { done(); } } catch (e) { /* text stays selected */ }
    }
  }

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    announce("Selected: press Ctrl+C or Cmd+C to copy");
  }

  // Forms with data-confirm ask first (delete and rotate have server-side safety too).
  function confirmSubmit(event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  }

  // "All events" makes the single-event boxes moot: dim them so the choice reads clearly.
  function syncAllEvents() {
    var all = document.querySelector("[data-all-events]");
    if (!all) { return; }
    var boxes = document.querySelectorAll('.event-group input[name="events"]');
    for (var i = 0; i < boxes.length; i++) { boxes[i].closest(".event-group").classList.toggle("muted", all.checked); }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) { copyText(button); }
  });
  document.addEventListener("submit", confirmSubmit, true);
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-all-events]")) { syncAllEvents(); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    syncAllEvents();
    var errors = document.getElementById("form-errors");
    if (errors) { errors.focus(); }
  });
})();

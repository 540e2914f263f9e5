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

  // The delivery log follows deliveries in progress (a test event, a retry) without a reload:
  // it polls a small JSON view of the log and, when it differs from what the page shows,
  // fetches the page again and swaps in the parts marked data-live (the state, the log).
  var POLL_MS = 2000;
  var POLL_FOR_MS = 120000;

  function shownLog(box) {
    var rows = box.querySelectorAll(".log-row[data-id]");
    var parts = [];
    for (var i = 0; i < rows.length; i++) {
      parts.push(rows[i].getAttribute("data-id") + ":" + rows[i].getAttribute("data-status") + ":" + rows[i].getAttribute("data-attempts"));
    }
    return parts.join(",");
  }

  function inProgress(box) {
    return box.querySelector('.log-row[data-status="pending"]') !== null || document.getElementById("log-notice") !== null;
  }

  function openRows(box) {
    var open = {};
    var details = box.querySelectorAll(".log-row > details[open]");
    for (var i = 0; i < details.length; i++) { open[details[i].parentNode.getAttribute("data-id")] = true; }
    return open;
  }

  function swapLive(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var parts = document.querySelectorAll("[data-live][id]");
    for (var i = 0; i < parts.length; i++) {
      var replacement = fresh.getElementById(parts[i].id);
      if (!replacement) { continue; }
      var open = openRows(parts[i]);
      parts[i].innerHTML = replacement.innerHTML;
      var rows = parts[i].querySelectorAll(".log-row[data-id]");
      for (var j = 0; j < rows.length; j++) {
        var details = rows[j].querySelector("details");
        if (details && open[rows[j].getAttribute("data-id")]) { details.open = true; }
      }
    }
  }

  function followLog() {
    var box = document.getElementById("log-entries");
    if (!box || !box.getAttribute("data-poll") || !window.fetch) { return; }
    var until = Date.now() + POLL_FOR_MS;
    var later = function () { if (Date.now() < until) { window.setTimeout(tick, POLL_MS); } };
    var tick = function () {
      if (!inProgress(box)) { return; }
      if (document.hidden) { later(); return; }
      window.fetch(box.getAttribute("data-poll"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          var json = (response.headers.get("content-type") || "").indexOf("application/json") === 0;
          return response.ok && json ? response.json() : null;
        })
        .then(function (state) {
          if (!state) { return; }  // signed out meanwhile: stop quietly
          var now = state.deliveries.map(function (d) { return d.id + ":" + d.status + ":" + d.attempts; }).join(",");
          if (now === shownLog(box)) { later(); return; }
          return window.fetch(window.location.href, { credentials: "same-origin" })
            .then(function (response) { return response.ok ? response.text() : null; })
            .then(function (html) {
              if (!html) { return; }
              swapLive(html);
              box = document.getElementById("log-entries");
              announce("The delivery log is updated");
              later();
            });
        })
        .catch(later);
    };
    later();
  }

  // After an action, its notice is shown beside what it acted on; make sure it is in view.
  function showNotice() {
    var notice = document.getElementById("log-notice");
    if (notice && notice.getBoundingClientRect().bottom > window.innerHeight) {
      notice.scrollIntoView({ block: "center" });
    }
  }

  // On a phone the main nav is one row that scrolls sideways: start it at the current page's
  // link, so the last ones ("Portal links") are not off screen when they are where you are.
  function showCurrentNav() {
    var current = document.querySelector(".mainnav [aria-current=page]");
    var nav = current && current.closest(".mainnav");
    if (!nav || nav.scrollWidth <= nav.clientWidth) { return; }
    var end = current.offsetLeft + current.offsetWidth;
    if (end > nav.scrollLeft + nav.clientWidth) { nav.scrollLeft = end - nav.clientWidth; }
  }

  // ... and fades at an edge beyond which more links are (markNavEdges), so that it reads
  // as a row that scrolls.
  function markNavEdges() {
    var nav = document.querySelector(".mainnav");
    if (!nav) { return; }
    var mark = function () {
      var hidden = nav.scrollWidth - nav.clientWidth;
      nav.classList.toggle("more-before", hidden > 1 && nav.scrollLeft > 1);
      nav.classList.toggle("more-after", hidden > 1 && nav.scrollLeft < hidden - 1);
    };
    mark();
    nav.addEventListener("scroll", mark, { passive: true });
    window.addEventListener("resize", mark);
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
    showCurrentNav();
    markNavEdges();
    var errors = document.getElementById("form-errors");
    if (errors) { errors.focus(); }
    showNotice();
    followLog();
  });
})();

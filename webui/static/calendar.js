// Drag an appointment onto another day of the calendar page (calendar.html)
// to move it there at the same time of day. It posts the same form as the
// "Move" section of the edit page (one occurrence of a series moves alone);
// without script that form does the job.
"use strict";
(function () {
  var tokenField = document.querySelector("input[name=csrf_token]");
  if (!tokenField) { return; }
  var dragged = null;
  document.querySelectorAll("[data-entry-move]").forEach(function (item) {
    item.addEventListener("dragstart", function (event) {
      dragged = item;
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", item.getAttribute("data-entry-move"));
    });
  });
  document.querySelectorAll("[data-day]").forEach(function (target) {
    target.addEventListener("dragover", function (event) {
      if (dragged) { event.preventDefault(); target.classList.add("drop-target"); }
    });
    target.addEventListener("dragleave", function () { target.classList.remove("drop-target"); });
    target.addEventListener("drop", function (event) {
      event.preventDefault();
      target.classList.remove("drop-target");
      if (!dragged) { return; }
      var form = new URLSearchParams();
      form.set("csrf_token", tokenField.value);
      form.set("etag", dragged.getAttribute("data-etag") || "");
      var rid = dragged.getAttribute("data-rid") || "";
      form.set("rid", rid);
      form.set("scope", rid ? "this" : "all");
      form.set("start_date", target.getAttribute("data-day"));
      form.set("start_time", dragged.getAttribute("data-start-time") || "");
      fetch(dragged.getAttribute("data-entry-move"), {
        method: "POST",
        credentials: "same-origin",
        body: form,
      }).then(function () { window.location.reload(); });
      dragged = null;
    });
  });
})();

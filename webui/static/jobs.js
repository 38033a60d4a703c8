// Moves a job's progress bar (job_progress.html) by polling /web/jobs/<id>;
// reloads the page once the job has ended so the server shows the outcome.
"use strict";
(function () {
  function watch(section) {
    var url = section.getAttribute("data-job-url");
    var bar = section.querySelector("progress");
    var status = section.querySelector("[data-job-status]");
    var message = section.querySelector("[data-job-message]");
    var count = section.querySelector("[data-job-count]");
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (job) {
          if (!job) { return; }
          if (job.percent !== null) { bar.value = job.percent; }
          status.textContent = job.status;
          message.textContent = job.message;
          if (job.total !== null) { count.textContent = job.done + " of " + job.total; }
          if (job.finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    setTimeout(poll, 1000);
  }
  document.querySelectorAll("[data-job-url]").forEach(function (section) {
    if (section.getAttribute("data-job-finished") === "no") { watch(section); }
  });
})();

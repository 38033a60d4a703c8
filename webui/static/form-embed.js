// kmdav contact form snippet: fills in the page address and swaps the
// snippet's long-lived token for a fresh time token when the page loads, so
// the server's minimum fill time counts from now. Without this script the
// form still works with the snippet's own token.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-kmdav-form]");
  Array.prototype.forEach.call(forms, function (form) {
    var page = form.querySelector('input[name="page"]');
    if (page && !page.value) {
      page.value = window.location.href;
    }
    fetch(form.action + "/token", { credentials: "omit", cache: "no-store" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (data) {
        var token = form.querySelector('input[name="_t"]');
        if (data && data.token && token) {
          token.value = data.token;
        }
      })
      .catch(function () { /* keep the snippet's token */ });
  });
})();

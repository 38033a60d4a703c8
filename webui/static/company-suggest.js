// Fills the <datalist> of an input with data-suggest="<url>" from <url>?q=<typed>
// as the user types (company names). Without script the field still works:
// the server resolves the typed name.
"use strict";
(function () {
  function attach(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var url = input.getAttribute("data-suggest");
    var timer = null;
    var asked = null;
    function ask() {
      var typed = input.value;
      if (!list || typed === asked) { return; }
      asked = typed;
      fetch(url + "?q=" + encodeURIComponent(typed), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null || typed !== input.value) { return; }
          var parsed = new DOMParser().parseFromString("<datalist>" + html + "</datalist>", "text/html");
          var options = parsed.querySelectorAll("option");
          list.replaceChildren.apply(list, Array.prototype.slice.call(options).map(function (option) {
            var copy = document.createElement("option");
            copy.value = option.value;
            return copy;
          }));
        })
        .catch(function () { asked = null; });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, 150);
    });
    input.addEventListener("focus", ask);
  }
  document.querySelectorAll("input[data-suggest]").forEach(attach);
})();

// Dunlin dashboard: the one script. The wording editor's preview follows
// what is typed. Pages work without it.
"use strict";
(function () {
  var form = document.getElementById("wording");
  var frame = document.getElementById("preview");
  if (!form || !frame) return;
  var timer;
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = new URLSearchParams();
      ["subject", "intro", "closing"].forEach(function (n) {
        q.set(n, form.elements[n].value);
      });
      frame.src = form.dataset.preview + "?" + q.toString();
    }, 300);
  });
})();

// The questionnaire form's skip logic: after each change the server says which questions apply (the same
// relevance rules the import checks run) and the others are hidden. Without this script every question shows,
// and answers to questions that do not apply are dropped when the draft is saved.
(function () {
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("questionnaire");
    if (!form || !window.fetch) return;
    var pending = null;
    function refresh() {
      fetch(form.dataset.relevantUrl, { method: "POST", body: new FormData(form), credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          form.querySelectorAll("[data-question]").forEach(function (el) {
            el.hidden = data.relevant[el.dataset.question] === false;
          });
        });
    }
    form.addEventListener("change", function () {
      clearTimeout(pending);
      pending = setTimeout(refresh, 150);
    });
  });
})();

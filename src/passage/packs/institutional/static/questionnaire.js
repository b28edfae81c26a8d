// The questionnaire page's scripts. Without them the page still works: every question shows, Save draft saves,
// Submit saves what is on the page and submits in one request.
//
// * Skip logic: after each change the server says which questions apply (the same relevance rules the import
//   checks run) and the others are hidden; answers to questions that do not apply are dropped when saved.
// * Autosave: a draft is saved (POST .../autosave, the CSRF token in X-CSRF-Token) a moment after the last
//   change, and when the tab is hidden or closed (fetch keepalive). Until the server has them, the answers are
//   also kept in this browser (localStorage) and put back when the page opens again on the same saved version.
// * "My tasks": a box ticking every office.
(function () {
  var DELAY_MS = 1200;

  function hhmm(d) {
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  function questionnaire(form) {
    var status = document.getElementById("autosave-status");
    var token = (form.querySelector("input[name=csrf_token]") || {}).value || "";
    var storeKey = "passage:" + (form.dataset.user || "") + ":" + form.dataset.autosaveUrl;  // per user and page
    var dirty = false, timer = null, relevantTimer = null, leaving = false, running = false;

    function say(text, kind) {
      if (!status) return;
      status.textContent = text || "";
      status.dataset.state = kind || "";
    }

    function answers() {
      var data = new FormData(form);
      data.delete("answers");
      return data;
    }

    function typed() {
      var out = {};
      form.querySelectorAll("[name^=q_]").forEach(function (el) {
        if (!(el.name in out)) out[el.name] = [];
        if ((el.type === "radio" || el.type === "checkbox") ? el.checked : el.value !== "") out[el.name].push(el.value);
      });
      return out;
    }

    function remember() {
      try { localStorage.setItem(storeKey, JSON.stringify({ version: form.dataset.version, values: typed() })); }
      catch (e) { /* private mode or full: the server copy is what counts */ }
    }

    function forget() {
      try { localStorage.removeItem(storeKey); } catch (e) { /* as above */ }
    }

    function restore() {
      var kept = null;
      try { kept = JSON.parse(localStorage.getItem(storeKey) || "null"); } catch (e) { kept = null; }
      if (!kept || !kept.values) return;
      if (String(kept.version) !== String(form.dataset.version)) { forget(); return; }  // saved since: stale
      var now = typed(), changed = false;
      Object.keys(kept.values).forEach(function (name) {
        if (JSON.stringify(kept.values[name]) !== JSON.stringify(now[name] || [])) changed = true;
      });
      if (!changed) { forget(); return; }
      form.querySelectorAll("[name^=q_]").forEach(function (el) {
        var values = kept.values[el.name];
        if (!values) return;
        if (el.type === "radio" || el.type === "checkbox") el.checked = values.indexOf(el.value) >= 0;
        else el.value = values.length ? values[0] : "";
      });
      dirty = true;
      form.dataset.restored = "true";
      say(form.dataset.msgRestored, "restored");
      refresh();
      schedule();
    }

    function showErrors(errors) {
      form.querySelectorAll(".autosave-error").forEach(function (el) { el.remove(); });
      form.querySelectorAll(".question.invalid").forEach(function (el) { el.classList.remove("invalid"); });
      (errors || []).forEach(function (e) {
        var box = e.question && document.getElementById("q-" + e.question);
        if (!box) return;
        box.classList.add("invalid");
        var p = document.createElement("p");
        p.className = "error small autosave-error";
        p.dataset.code = e.code || "";
        p.textContent = e.message;
        box.appendChild(p);
      });
    }

    function showMissing(missing) {
      var box = document.getElementById("missing"), list = document.getElementById("missing-answers");
      if (!box || !list || !missing) return;
      list.textContent = "";
      missing.forEach(function (m) {
        var li = document.createElement("li"), a = document.createElement("a");
        a.href = "#q-" + m.name;
        a.dataset.question = m.name;
        a.textContent = m.label;
        li.appendChild(a);
        list.appendChild(li);
      });
      var count = document.getElementById("missing-count");
      if (count) count.textContent = String(missing.length);
      box.hidden = missing.length === 0;
    }

    function save() {
      clearTimeout(timer);
      if (!dirty || leaving) return;
      if (running) { schedule(); return; }  // one save at a time: the next goes after it
      dirty = false;
      running = true;
      say(form.dataset.msgSaving, "saving");
      fetch(form.dataset.autosaveUrl, {
        method: "POST", body: answers(), credentials: "same-origin",
        headers: { "X-CSRF-Token": token, "Accept": "application/json" }
      }).then(function (r) {
        return r.json().then(function (data) { return { status: r.status, data: data }; });
      }).then(function (res) {
        running = false;
        if (res.status === 200 && res.data.saved) {
          form.dataset.version = res.data.version;
          if (dirty) remember(); else forget();
          showErrors([]);
          showMissing(res.data.missing);
          say(form.dataset.msgSaved.replace("%(time)s", hhmm(new Date())), "saved");
        } else if (res.status === 422) {
          dirty = true;  // kept here, and sent again with the next change or when the tab closes
          showErrors(res.data.errors);
          say(form.dataset.msgInvalid, "invalid");
        } else {
          say(res.status === 409 ? form.dataset.msgFrozen : (res.data.error || {}).message, "error");
        }
      }).catch(function () {
        running = false;
        dirty = true;
        say(form.dataset.msgOffline, "error");
      });
    }

    function flush() {  // the tab is hidden or closing: send what is unsaved, even if the page goes away
      if (!dirty || leaving) return;
      dirty = false;
      try {
        fetch(form.dataset.autosaveUrl, {
          method: "POST", body: answers(), credentials: "same-origin", keepalive: true,
          headers: { "X-CSRF-Token": token, "Accept": "application/json" }
        }).catch(function () { /* kept in localStorage */ });
      } catch (e) { dirty = true; }
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(save, DELAY_MS);
    }

    function refresh() {
      clearTimeout(relevantTimer);
      relevantTimer = setTimeout(function () {
        fetch(form.dataset.relevantUrl, { method: "POST", body: answers(), credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) {
            if (!data) return;
            form.querySelectorAll("[data-question]").forEach(function (el) {
              el.hidden = data.relevant[el.dataset.question] === false;
            });
          });
      }, 150);
    }

    function edited() {
      dirty = true;
      remember();
      schedule();
    }

    form.addEventListener("input", edited);
    form.addEventListener("change", function () { edited(); refresh(); });
    form.addEventListener("submit", function () { leaving = true; clearTimeout(timer); });  // the form sends them
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") flush(); });
    window.addEventListener("pagehide", flush);
    window.addEventListener("pageshow", function (e) { if (e.persisted) leaving = false; });  // back from the cache
    restore();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("questionnaire");
    if (form && window.fetch && window.FormData) questionnaire(form);
    var all = document.getElementById("tick-all");
    if (all) {
      all.hidden = false;
      all.addEventListener("change", function () {
        document.querySelectorAll("#tasks input[name=office]").forEach(function (box) { box.checked = all.checked; });
      });
    }
  });
})();

// Offers and campaigns: live push preview, live audience count, live campaign progress.
// Same-origin only (CSP script-src 'self'); every text goes in with textContent, never as HTML.
// Without this script the pages still work: forms post normally, numbers show at load.
"use strict";

(function () {
  var DEBOUNCE_MS = 250;
  var POLL_MS = 2000;

  function postForm(url, form) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      body: new URLSearchParams(new FormData(form)),
      cache: "no-store",
    }).then(function (response) {
      return response.ok ? response.json() : null;
    });
  }

  function getJson(url) {
    return fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store",
    }).then(function (response) {
      return response.ok ? response.json() : null;
    });
  }

  // Ask again shortly after the last change; answers to older questions are dropped.
  function live(form, url, show) {
    var timer = null;
    var asked = 0;
    function ask() {
      var number = ++asked;
      postForm(url, form)
        .then(function (data) {
          if (data && number === asked) show(data);
        })
        .catch(function () {});
    }
    function changed() {
      clearTimeout(timer);
      timer = setTimeout(ask, DEBOUNCE_MS);
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    // A control outside the form but attached to it (form="...") changes it too.
    Array.prototype.forEach.call(document.querySelectorAll('[form="' + form.id + '"]'), function (el) {
      el.addEventListener("change", changed);
    });
  }

  function setText(id, value) {
    var node = document.getElementById(id);
    if (node) node.textContent = String(value);
  }

  // Name a wrong filter at its field while the member is still choosing (the same words
  // as after sending), and take the message away once it is right.
  var FILTERS = ["crebos", "levels", "locations", "regions", "cohort_from", "cohort_to",
    "situations", "sectors", "interests", "active_days"];

  function showErrors(form, errors) {
    FILTERS.forEach(function (name) {
      var field = document.getElementById(name);
      var node = document.getElementById(name + "-error");
      if (!(name in errors)) {
        if (node) node.remove();
        if (field) field.removeAttribute("aria-invalid");
        return;
      }
      if (!field || field.form !== form) return;
      if (!node) {
        node = document.createElement("p");
        node.className = "field-error";
        node.id = name + "-error";
        field.insertAdjacentElement("afterend", node);
      }
      var text = String(errors[name]);
      node.textContent = text.charAt(0).toUpperCase() + text.slice(1);
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", node.id);
    });
  }

  // A long list scrolls its choices out of sight: say below it what is chosen.
  Array.prototype.forEach.call(document.querySelectorAll("[data-chosen-for]"), function (note) {
    var select = document.getElementById(note.dataset.chosenFor);
    if (!select) return;
    select.addEventListener("change", function () {
      var names = Array.prototype.map.call(select.selectedOptions, function (option) {
        return option.textContent.trim();
      });
      note.textContent = names.length ? note.dataset.prefix + names.join(", ") : note.dataset.none;
    });
  });

  var offerForm = document.getElementById("offer-form");
  if (offerForm) {
    live(offerForm, offerForm.dataset.preview, function (data) {
      var text = document.getElementById("preview-text");
      var buttons = document.getElementById("preview-buttons");
      var runs = document.createDocumentFragment();
      data.runs.forEach(function (run) {
        var span = document.createElement("span");
        run.styles.forEach(function (style) {
          span.classList.add("tg-" + String(style).replace(/[^a-z]/g, ""));
        });
        span.textContent = run.text;
        runs.appendChild(span);
      });
      text.replaceChildren(runs);
      var rows = document.createDocumentFragment();
      data.buttons.forEach(function (line) {
        var row = document.createElement("div");
        row.className = "tg-row";
        line.forEach(function (button) {
          var item = document.createElement("span");
          item.className = button.url ? "tg-button tg-url" : "tg-button";
          item.textContent = button.text;
          row.appendChild(item);
        });
        rows.appendChild(row);
      });
      buttons.replaceChildren(rows);
      setText("preview-chars", data.chars);
    });
  }

  var composer = document.getElementById("composer");
  if (composer) {
    live(composer, composer.dataset.count, function (data) {
      setText("audience-count", data.count === null ? "–" : data.count);
      setText("audience-suffix", data.count_suffix);
      showErrors(composer, data.errors || {});
      setText("audience-already-count", data.already);
      setText("audience-already-suffix", data.already_suffix);
      document.getElementById("audience-already").hidden = !data.already;
      setText("audience-maybe-count", data.maybe);
      document.getElementById("audience-maybe").hidden = !data.maybe;
      setText("purpose-label", data.purpose_label);
    });
  }

  var progress = document.getElementById("campaign-progress");
  if (progress) {
    var busy = false;
    setInterval(function () {
      if (busy) return;
      busy = true;
      getJson(progress.dataset.poll)
        .then(function (data) {
          if (!data) return;
          var stats = data.stats;
          var bar = document.getElementById("progress-bar");
          bar.value = data.percent;
          bar.textContent = data.percent + "%";
          setText("progress-percent", data.percent);
          setText("progress-done", data.done);
          setText("progress-total", data.total);
          setText("campaign-status", data.status_label);
          ["targeted", "already", "maybe", "pending", "sent", "blocked", "failed", "unknown", "digest", "cancelled",
            "interest", "optout"].forEach(function (name) {
            setText("stat-" + name, stats[name]);
          });
          // Show only the controls that fit the campaign's state now.
          Array.prototype.forEach.call(progress.querySelectorAll("[data-control]"), function (button) {
            button.hidden = data.controls.indexOf(button.dataset.control) < 0;
          });
        })
        .catch(function () {})
        .finally(function () {
          busy = false;
        });
    }, POLL_MS);
  }
})();

// Web inbox: show new messages and list changes without a manual reload.
// Same-origin only (CSP script-src 'self'); user text goes in with textContent, never as HTML.
"use strict";

(function () {
  var POLL_MS = 3000;

  function getJson(url) {
    return fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store",
    }).then(function (response) {
      return response.ok ? response.json() : null;
    });
  }

  function messageNode(message) {
    var item = document.createElement("li");
    item.className = "msg msg-" + String(message.direction).replace(/[^a-z]/g, "");
    item.dataset.id = String(message.id);
    var meta = document.createElement("div");
    meta.className = "meta";
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = message.who;
    var when = document.createElement("span");
    when.className = "when";
    when.textContent = message.when;
    meta.append(who, " ", when);
    var text = document.createElement("p");
    text.className = "text";
    if (message.media) {
      var media = document.createElement("span");
      media.className = "media";
      media.textContent = message.media;
      text.append(media, " ");
    }
    text.append(document.createTextNode(message.text));
    item.append(meta, text);
    return item;
  }

  var thread = document.getElementById("thread");
  if (thread) {
    var after = Number(thread.dataset.after || "0");
    var busy = false;
    setInterval(function () {
      if (busy) return;
      busy = true;
      getJson(thread.dataset.poll + "?after=" + after)
        .then(function (data) {
          if (!data || !data.messages) return;
          data.messages.forEach(function (message) {
            if (message.id <= after) return;
            thread.appendChild(messageNode(message));
            after = message.id;
          });
        })
        .catch(function () {})
        .finally(function () {
          busy = false;
        });
    }, POLL_MS);
  }

  var list = document.getElementById("inbox-list");
  if (list) {
    setInterval(function () {
      var typing = document.activeElement && list.contains(document.activeElement) &&
        document.activeElement.tagName !== "A";
      if (typing) return; // do not throw away a search being typed
      getJson(list.dataset.poll)
        .then(function (data) {
          if (data && data.marker && data.marker !== list.dataset.marker) {
            window.location.reload();
          }
        })
        .catch(function () {});
    }, POLL_MS);
  }
})();

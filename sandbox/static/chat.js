// Web chat for the Bot API simulator. Bot text arrives as visible text plus Telegram
// entities (already validated by the simulator); it is turned into DOM nodes here, never
// assigned as HTML, so user- or bot-provided text can not inject markup.
"use strict";

const API = "/sim/api";
const SAFE_URL = /^(https?:|tg:|mailto:)/i;
const MEDIA_LABELS = {
  sticker: "🖼 sticker", photo: "📷 foto / photo", voice: "🎤 spraakbericht / voice message",
  location: "📍 locatie / location", contact: "👤 contact", document: "📄 document",
};
const $ = (id) => document.getElementById(id);
const state = { user: null, source: null, bubbles: new Map() };

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

async function post(path, body) {
  const response = await fetch(API + path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(await response.text());
  return response.json();
}

// ------------------------------------------------------------ entity rendering

function entityNode(entity) {
  switch (entity.type) {
    case "bold": return el("strong");
    case "italic": return el("em");
    case "underline": return el("u");
    case "strikethrough": return el("s");
    case "code": return el("code");
    case "pre": return el("pre", entity.language ? { "data-language": entity.language } : {});
    case "blockquote": case "expandable_blockquote": return el("blockquote");
    case "spoiler": {
      const node = el("span", { class: "spoiler", tabindex: "0", role: "button", "aria-label": "spoiler" });
      const reveal = () => node.classList.add("revealed");
      node.addEventListener("click", reveal);
      node.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") reveal(); });
      return node;
    }
    case "text_link":
      if (SAFE_URL.test(entity.url || "")) {
        return el("a", { href: entity.url, target: "_blank", rel: "noopener noreferrer" });
      }
      return el("span");
    default: return el("span", { class: "entity-" + String(entity.type).replace(/[^a-z_]/g, "") });
  }
}

// Offsets are UTF-16 code units, which is exactly how JavaScript indexes strings.
function renderEntities(text, entities) {
  const sorted = [...(entities || [])].sort((a, b) => a.offset - b.offset || b.length - a.length);
  const fragment = document.createDocumentFragment();
  let index = 0;
  function build(parent, start, end, list) {
    let pos = start;
    while (index < list.length && list[index].offset < end) {
      const entity = list[index];
      const eStart = Math.max(entity.offset, pos);
      const eEnd = Math.min(entity.offset + entity.length, end);
      index += 1;
      if (eStart > pos) parent.append(text.slice(pos, eStart));
      if (eEnd <= eStart) continue;
      const node = entityNode(entity);
      build(node, eStart, eEnd, list);
      parent.append(node);
      pos = eEnd;
    }
    if (pos < end) parent.append(text.slice(pos, end));
  }
  build(fragment, 0, text.length, sorted);
  return fragment;
}

// ------------------------------------------------------------- message bubbles

function inlineKeyboard(message) {
  const rows = message.reply_markup && message.reply_markup.inline_keyboard;
  if (!rows || !rows.length) return null;
  const box = el("div", { class: "inline-keyboard", role: "group", "aria-label": "Knoppen / Buttons" });
  for (const row of rows) {
    const line = el("div", { class: "row" });
    for (const button of row) {
      if (button.url && SAFE_URL.test(button.url)) {
        line.append(el("a", { href: button.url, target: "_blank", rel: "noopener noreferrer", text: button.text }));
      } else if (typeof button.callback_data === "string") {
        const node = el("button", { type: "button", text: button.text });
        node.addEventListener("click", () => press(message.message_id, button.callback_data));
        line.append(node);
      } else {
        line.append(el("button", { type: "button", text: button.text, disabled: "" }));
      }
    }
    box.append(line);
  }
  return box;
}

function mediaFileId(message, kind) {
  if (kind === "photo" && Array.isArray(message.photo) && message.photo.length) return message.photo[message.photo.length - 1].file_id;
  if (kind === "voice" && message.voice) return message.voice.file_id;
  return null;
}

function mediaNote(message) {
  for (const kind of Object.keys(MEDIA_LABELS)) {
    if (!message[kind] || kind === "document") continue;
    const fileId = mediaFileId(message, kind);
    if (fileId) {
      return el("a", { class: "media-note", href: `${API}/files/${encodeURIComponent(fileId)}`, download: "", text: MEDIA_LABELS[kind] });
    }
    return el("span", { class: "media-note", text: MEDIA_LABELS[kind] });
  }
  return null;
}

function bubbleContent(view) {
  const message = view.message;
  const parts = [];
  const note = mediaNote(message);
  if (note) parts.push(note);
  if (message.document) {
    const doc = message.document;
    const name = doc.file_name || "document";
    parts.push(el("a", { href: `${API}/files/${encodeURIComponent(doc.file_id)}`, download: name, text: `📄 ${name}` }));
  }
  if (message.new_chat_members) parts.push(el("span", { class: "media-note", text: "(bot toegevoegd / bot added)" }));
  const text = message.text ?? message.caption;
  if (text) {
    if (parts.length) parts.push(document.createElement("br"));
    parts.push(renderEntities(text, message.text != null ? message.entities : message.caption_entities));
  }
  const keyboard = inlineKeyboard(message);
  if (keyboard) parts.push(keyboard);
  const time = new Date(message.date * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  parts.push(el("span", { class: "meta", text: view.edited ? `bewerkt · ${time}` : time }));
  return parts;
}

function upsert(view) {
  let bubble = state.bubbles.get(view.message_id);
  if (!bubble) {
    bubble = el("li", { class: `bubble ${view.side}` });
    state.bubbles.set(view.message_id, bubble);
    const list = $("messages");
    let next = null;
    for (const [id, node] of state.bubbles) {
      if (id > view.message_id && node.isConnected && (!next || id < next[0])) next = [id, node];
    }
    list.insertBefore(bubble, next ? next[1] : null);
  }
  $("intro").hidden = true;
  bubble.replaceChildren(...bubbleContent(view));
  if (view.side === "bot" && view.keyboard) applyReplyKeyboard(view.keyboard);
  bubble.scrollIntoView({ block: "end" });
}

function applyReplyKeyboard(markup) {
  const box = $("reply-keyboard");
  if (markup.remove_keyboard) { box.hidden = true; box.replaceChildren(); return; }
  if (!markup.keyboard) return;
  box.replaceChildren();
  for (const row of markup.keyboard) {
    const line = el("div", { class: "row" });
    for (const button of row) {
      const label = typeof button === "string" ? button : button.text;
      const node = el("button", { type: "button", text: label });
      node.addEventListener("click", () => {
        sendText(label);
        if (markup.one_time_keyboard) box.hidden = true;
      });
      line.append(node);
    }
    box.append(line);
  }
  box.hidden = false;
}

function toast(text, alert) {
  if (!text) return;
  if (alert) { window.alert(text); return; }
  const node = $("toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, 3000);
}

// ----------------------------------------------------------------- actions

async function guarded(action) {
  try { await action(); $("status").textContent = ""; }
  catch (error) { $("status").textContent = `Fout / Error: ${error.message}`; }
}

function sendText(text) {
  return guarded(() => post(`/users/${state.user.id}/messages`, { text }));
}

function press(messageId, data) {
  return guarded(() => post(`/users/${state.user.id}/press`, { message_id: messageId, callback_data: data }));
}

function connect() {
  if (state.source) state.source.close();
  const source = new EventSource(`${API}/chats/${state.user.id}/events`);
  state.source = source;
  source.addEventListener("message", (e) => upsert(JSON.parse(e.data)));
  source.addEventListener("delete", (e) => {
    const id = JSON.parse(e.data).message_id;
    const bubble = state.bubbles.get(id);
    if (bubble) { bubble.remove(); state.bubbles.delete(id); }
  });
  source.addEventListener("answer", (e) => { const a = JSON.parse(e.data); toast(a.text, a.show_alert); });
  source.addEventListener("action", () => {
    $("status").textContent = "bot is aan het typen… / typing…";
    setTimeout(() => { $("status").textContent = ""; }, 2000);
  });
  source.addEventListener("ready", (e) => {
    $("status").textContent = "";
    if (JSON.parse(e.data).count === 0 && state.bubbles.size === 0) showIntro();
  });
  source.onerror = () => { $("status").textContent = "Verbinding verbroken, opnieuw… / Reconnecting…"; };
}

// An empty chat shows what Telegram shows before /start: the bot's description (set by the
// bot with setMyDescription, in the user's language) and a Start button.
async function showIntro() {
  const response = await fetch(`${API}/users/${state.user.id}/bot`);
  if (!response.ok || state.bubbles.size > 0) return;
  const bot = await response.json();
  $("intro-text").textContent = bot.description || bot.short_description || "";
  $("intro").hidden = false;
  $("intro-start").focus();
}

function openChat(user) {
  state.user = user;
  sessionStorage.setItem("sim-user", JSON.stringify(user));
  $("login").hidden = true;
  $("chat").hidden = false;
  $("logout").hidden = false;
  $("messages").replaceChildren();
  state.bubbles.clear();
  connect();
  $("text").focus();
}

function init() {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      openChat(await post("/users", { first_name: form.get("first_name"), language_code: form.get("language_code") }));
    } catch (error) {
      $("login-error").textContent = error.message;
      $("login-error").hidden = false;
    }
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const box = $("text");
    const text = box.value;
    if (!text.trim()) return;
    box.value = "";
    sendText(text);
    box.focus();
  });
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  for (const button of document.querySelectorAll(".media-row button")) {
    button.addEventListener("click", () => guarded(() => post(`/users/${state.user.id}/media`, { kind: button.dataset.kind })));
  }
  $("intro-start").addEventListener("click", () => {
    $("intro").hidden = true;
    sendText("/start");
    $("text").focus();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem("sim-user");
    if (state.source) state.source.close();
    location.reload();
  });
  const saved = sessionStorage.getItem("sim-user");
  if (saved) {
    const user = JSON.parse(saved);
    fetch(`${API}/users/${user.id}`).then((r) => (r.ok ? openChat(user) : sessionStorage.removeItem("sim-user")));
  } else {
    $("first-name").focus();
  }
}

document.addEventListener("DOMContentLoaded", init);

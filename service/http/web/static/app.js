/* Shared helpers of the Wenshu pages: element building, JSON API calls with the session's
 * CSRF token, the progress overlay, a confirmation dialog, local times, and two form behaviours:
 *   <form data-busy="正在…">     shows the overlay while the next page loads;
 *   <form data-confirm="…？">    asks first (not for a button marked data-no-confirm). */
(function () {
  "use strict";

  function h(tag, attrs) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === "text") el.textContent = v;
      else if (k === "class") el.className = v;
      else el.setAttribute(k, v === true ? "" : v);
    });
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(el, c); });
    else if (typeof child === "string") el.appendChild(document.createTextNode(child));
    else el.appendChild(child);
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /* POST (with a body) or GET the JSON API as the logged-in user; ``extra`` adds headers
   * (Idempotency-Key) and fetch options (keepalive). */
  function api(url, body, method, extra) {
    var opts = {
      method: method || (body === undefined ? "GET" : "POST"),
      credentials: "same-origin",
      headers: { Accept: "application/json, application/pdf", "X-CSRF-Token": csrf() },
    };
    Object.keys((extra && extra.headers) || {}).forEach(function (k) { opts.headers[k] = extra.headers[k]; });
    if (extra && extra.keepalive) opts.keepalive = true;
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts);
  }

  /* Show the progress overlay with ``text`` and a running clock; returns a function that hides it. */
  function busy(text) {
    var box = document.getElementById("busy");
    var clock = document.getElementById("busy-time");
    document.getElementById("busy-text").textContent = text || "正在处理…";
    var started = Date.now();
    clock.textContent = "";
    var timer = setInterval(function () {
      clock.textContent = "已用时 " + Math.round((Date.now() - started) / 1000) + " 秒";
    }, 500);
    box.hidden = false;
    document.body.setAttribute("aria-busy", "true");
    return function () {
      clearInterval(timer);
      box.hidden = true;
      document.body.removeAttribute("aria-busy");
    };
  }

  /* A modal question; resolves true when the user clicks ``okLabel``. */
  function confirmDialog(message, okLabel, danger) {
    return new Promise(function (resolve) {
      var ok = h("button", { type: "button", class: "btn " + (danger ? "btn-danger" : "btn-primary"), text: okLabel || "确定" });
      var cancel = h("button", { type: "button", class: "btn btn-secondary", text: "取消" });
      var dlg = h("dialog", { class: "dialog" }, h("p", { class: "dialog-text", text: message }),
        h("div", { class: "dialog-buttons" }, cancel, ok));
      document.body.appendChild(dlg);
      function close(answer) { dlg.close(); dlg.remove(); resolve(answer); }
      ok.addEventListener("click", function () { close(true); });
      cancel.addEventListener("click", function () { close(false); });
      dlg.addEventListener("cancel", function () { close(false); });
      dlg.showModal();
      ok.focus();
    });
  }

  /* Keep only <mark> from an HTML snippet (search highlights); everything else becomes text. */
  function markedText(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html || "";
    var out = document.createDocumentFragment();
    tpl.content.childNodes.forEach(function walk(node) {
      if (node.nodeType === Node.TEXT_NODE) out.appendChild(document.createTextNode(node.textContent));
      else if (node.nodeName === "MARK") out.appendChild(h("mark", { text: node.textContent }));
      else node.childNodes.forEach(walk);
    });
    return out;
  }

  /* Nothing of a document is kept in the browser: drafts live on the server. Older versions of
   * these pages kept drafts (ID numbers included) in localStorage under "wenshu-draft:…";
   * every page, the login page after a logout among them, removes what is left of them. */
  function forgetOldDrafts() {
    [window.localStorage, window.sessionStorage].forEach(function (store) {
      try {
        for (var i = store.length - 1; i >= 0; i--) {
          var key = store.key(i);
          if (key && key.indexOf("wenshu-") === 0) store.removeItem(key);
        }
      } catch (e) { /* storage disabled: nothing to remove */ }
    });
  }
  forgetOldDrafts();

  /* An ISO time as the bureau's local time: "2026年12月2日 10:17" (or "10:17" with timeOnly),
   * the one format every page writes dates in. */
  function localTime(iso, timeOnly) {
    if (!iso) return "";
    var meta = document.querySelector('meta[name="timezone"]');
    var opts = { hour12: false, hour: "2-digit", minute: "2-digit" };
    if (!timeOnly) { opts.year = "numeric"; opts.month = "numeric"; opts.day = "numeric"; }
    if (meta && meta.content) opts.timeZone = meta.content;
    var parts = {};
    new Intl.DateTimeFormat("zh-CN", opts).formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
    var hm = parts.hour.replace(/^24$/, "00") + ":" + parts.minute;
    return timeOnly ? hm : parts.year + "年" + parts.month + "月" + parts.day + "日 " + hm;
  }

  window.Wenshu = { h: h, api: api, busy: busy, confirm: confirmDialog, csrf: csrf, markedText: markedText,
    localTime: localTime };

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var plain = ev.submitter && ev.submitter.hasAttribute("data-no-confirm");  // e.g. a preview
    if (form.dataset.confirm && !form.dataset.confirmed && !plain) {
      ev.preventDefault();
      confirmDialog(form.dataset.confirm, form.dataset.confirmOk || "确定", form.dataset.danger === "true")
        .then(function (yes) {
          if (!yes) return;
          form.dataset.confirmed = "1";
          if (form.dataset.busy) busy(form.dataset.busy);
          form.submit();
        });
      return;
    }
    if (form.dataset.busy) {
      busy(form.dataset.busy);
      setTimeout(function () {  // after the form data (with the clicked button) is taken
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    }
  });
  window.addEventListener("pageshow", function (ev) {
    if (ev.persisted) document.getElementById("busy").hidden = true;
  });
})();

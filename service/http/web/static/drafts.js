/* 待办与草稿 (the work list) and its summary on 工作台: the org's drafts from
 * GET /api/v1/drafts, sorted into what waits for me (待办), my unfinished drafts (我的草稿) and
 * what is done (已办). An approver's 待办 is the org's drafts submitted for 签发 (not their own);
 * a drafter's is their drafts returned with a comment, and those approved and waiting for
 * 编号发文. */
(function () {
  "use strict";
  var W = window.Wenshu;
  var h = W.h;
  var root = document.getElementById("worklist") || document.getElementById("draft-summary");
  if (!root) return;
  var user = root.dataset.user;
  var approver = root.dataset.approver === "true";
  var labelsEl = document.getElementById("doctype-labels");
  var typeLabels = labelsEl ? JSON.parse(labelsEl.textContent) : {};
  var STATES = {
    draft: ["草稿", "badge-info"], submitted: ["待签发", "badge-warn"], returned: ["已退回", "badge-bad"],
    approved: ["已签发，待编号发文", "badge-ok"], issued: ["已编号发文", "badge-ok"], withdrawn: ["已撤回", "badge-muted"],
  };
  var PER_PAGE = 100;
  var MAX_PAGES = 10;

  function by(e) { return e.by || e.actor || ""; }
  function last(d, action) {
    var hist = d.history || [];
    for (var i = hist.length - 1; i >= 0; i--) if (hist[i].action === action) return hist[i];
    return null;
  }
  function actedByMe(d) {
    return (d.history || []).some(function (e) { return (e.action === "approve" || e.action === "return") && by(e) === user; });
  }

  function sort(items) {
    var out = { todo: [], mine: [], done: [] };
    items.forEach(function (d) {
      var mine = d.created_by === user;
      var st = d.state;
      if (approver && !mine) {
        if (st === "submitted") out.todo.push(d);
        else if (actedByMe(d)) out.done.push(d);
        return;
      }
      if (!mine) return;
      if (st === "returned" || (st === "approved")) out.todo.push(d);
      if (st === "draft" || st === "returned" || st === "submitted") out.mine.push(d);
      if (st === "approved" || st === "issued" || st === "withdrawn") out.done.push(d);
    });
    return out;
  }

  /* every page of the list (an org's open drafts fit in a few) */
  function fetchAll() {
    var query = approver ? "" : "&mine=1";
    var items = [];
    function next(page) {
      return W.api("/api/v1/drafts?per_page=" + PER_PAGE + "&page=" + page + query).then(function (resp) {
        return resp.json().then(function (p) {
          if (!resp.ok) throw new Error(p.message || String(resp.status));
          items = items.concat(p.items || []);
          if (page * PER_PAGE < p.total && page < MAX_PAGES) return next(page + 1);
          return items;
        });
      });
    }
    return next(1);
  }

  function comment(d) {
    if (d.state === "returned") {
      var r = last(d, "return");
      return r ? h("span", { class: "comment-text", text: "退回：" + (r.comment || "") + "（" + by(r) + "）" }) : null;
    }
    var a = last(d, "approve");
    if (a && a.comment) return h("span", { class: "comment-text", text: "签发：" + a.comment + "（" + by(a) + "）" });
    if (a) return h("span", { class: "muted", text: by(a) + " 签发" });
    return null;
  }

  function row(d) {
    var s = STATES[d.state] || [d.state, "badge-muted"];
    var title = (d.data && d.data.title) || (typeLabels[d.type] || d.type) + "（未填标题）";
    var number = d.document ? (d.document.wenhao || d.document.archive_no) : null;
    return h("tr", { "data-id": d.id, "data-state": d.state },
      h("td", {}, h("a", { href: "/drafts/" + encodeURIComponent(d.id), text: title }),
        number ? h("div", { class: "small" }, h("a", { class: "wenhao", href: "/documents/" + encodeURIComponent(d.document.id), text: number })) : null),
      h("td", { class: "nowrap", text: typeLabels[d.type] || d.type }),
      h("td", { class: "nowrap" }, h("span", { class: "badge " + s[1], text: s[0] })),
      h("td", { class: "nowrap", text: d.created_by }),
      h("td", { class: "nowrap", text: W.localTime(d.updated_at) }),
      h("td", {}, comment(d)));
  }

  function fillTable(key, list) {
    var body = document.getElementById("rows-" + key);
    var count = document.getElementById("count-" + key);
    if (count) count.textContent = String(list.length);
    if (!body) return;
    body.textContent = "";
    if (!list.length) body.appendChild(h("tr", {}, h("td", { colspan: "6", class: "empty", text: "暂无" })));
    list.forEach(function (d) { body.appendChild(row(d)); });
  }

  function showTab() {
    var key = (location.hash || "#todo").slice(1);
    if (!document.getElementById("panel-" + key)) key = "todo";
    document.querySelectorAll(".tab-panel").forEach(function (p) { p.hidden = p.id !== "panel-" + key; });
    document.querySelectorAll(".tabs a").forEach(function (a) {
      var on = a.id === "tab-" + key;
      a.classList.toggle("active", on);
      a.setAttribute("aria-selected", on ? "true" : "false");
    });
  }

  function summary(out) {
    var parts = approver
      ? [["todo", "待签发", out.todo.length], ["done", "已办", out.done.length]]
      : [["todo", "待办（退回、待编号发文）", out.todo.length], ["mine", "我的草稿", out.mine.length], ["done", "已办", out.done.length]];
    var box = document.getElementById("draft-summary-items");
    box.textContent = "";
    parts.forEach(function (p) {
      box.appendChild(h("a", { class: "stat" + (p[0] === "todo" && p[2] ? " stat-hot" : ""), href: "/drafts#" + p[0], id: "summary-" + p[0] },
        h("b", { text: String(p[2]) }), h("span", { text: p[1] })));
    });
    var first = out.todo.slice(0, 5);
    var list = document.getElementById("draft-summary-list");
    list.textContent = "";
    first.forEach(function (d) {
      var s = STATES[d.state] || [d.state, "badge-muted"];
      var title = (d.data && d.data.title) || (typeLabels[d.type] || d.type) + "（未填标题）";
      list.appendChild(h("li", {}, h("span", { class: "badge " + s[1], text: s[0] }), " ",
        h("a", { href: "/drafts/" + encodeURIComponent(d.id), text: title }),
        h("span", { class: "muted small", text: "　" + d.created_by + "，" + W.localTime(d.updated_at) })));
    });
  }

  function refresh() {
    var status = document.getElementById("worklist-status");
    return fetchAll().then(function (items) {
      var out = sort(items);
      if (root.id === "draft-summary") { summary(out); return; }
      fillTable("todo", out.todo);
      fillTable("mine", out.mine);
      fillTable("done", out.done);
      status.textContent = "";
      status.hidden = true;
    }).catch(function (e) {
      var msg = "无法读取草稿：" + e.message;
      if (status) { status.textContent = msg; status.className = "small verify-status bad"; }
      else document.getElementById("draft-summary-items").textContent = msg;
    });
  }

  if (root.id === "worklist") {
    window.addEventListener("hashchange", showTab);
    showTab();
  }
  refresh();
  window.addEventListener("pageshow", function (ev) { if (ev.persisted) refresh(); });
})();

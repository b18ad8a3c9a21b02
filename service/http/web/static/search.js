/* 检索: the form's values live in the address (so a search can be bookmarked and paged);
 * the page asks GET /api/v1/search and draws hits with highlighted, masked snippets. */
(function () {
  "use strict";
  var W = window.Wenshu;
  var h = W.h;
  var form = document.getElementById("search-form");
  if (!form) return;
  var TYPES = {};
  form.querySelectorAll('select[name="type"] option').forEach(function (o) { if (o.value) TYPES[o.value] = o.textContent; });
  var PER_PAGE = 10;
  var params = new URLSearchParams(window.location.search);
  ["q", "type", "date_from", "date_to", "case_no", "org", "sort"].forEach(function (k) {
    var el = form.elements[k];
    if (el && params.get(k)) el.value = params.get(k);
  });
  var page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
  var status = document.getElementById("search-status");
  var list = document.getElementById("hits");
  var pager = document.getElementById("search-pager");
  var facets = document.getElementById("facets");

  function query(p) {
    var q = new URLSearchParams();
    ["q", "type", "date_from", "date_to", "case_no", "org", "sort"].forEach(function (k) {
      var el = form.elements[k];
      if (el && !el.disabled && el.value && !(k === "sort" && el.value === "relevance")) q.set(k, el.value);
    });
    if (p > 1) q.set("page", String(p));
    return q;
  }
  function link(p, text) {
    return h("a", { href: "?" + query(p).toString(), text: text });
  }
  function day(iso) { return iso ? iso.slice(0, 10) : ""; }

  function render(r) {
    list.textContent = "";
    var q = form.elements.q.value.trim();
    var wording = r.total_relation === "gte" ? status.dataset.totalGte : status.dataset.totalEq;
    status.textContent = (q ? "“" + q + "”" : "全部文书") + "：" +
      wording.split("{n}").join(r.total.toLocaleString("en-US")) +
      (r.total > PER_PAGE ? "，第 " + r.page + " 页" : "") +
      (r.indexing ? "（另有 " + r.indexing + " 件刚签发的文书正在编入索引，稍后再检索可见）" : "");
    r.hits.forEach(function (hit) {
      var number = hit.wenhao || hit.archive_no || "";
      list.appendChild(h("li", { class: "hit" },
        h("div", { class: "hit-head" },
          h("a", { class: "hit-title", href: "/documents/" + encodeURIComponent(hit.id), text: hit.title }),
          hit.status === "withdrawn" ? h("span", { class: "badge badge-bad", text: "已作废" }) : null),
        h("div", { class: "hit-meta" },
          h("span", { class: "badge", text: TYPES[hit.type] || hit.type }),
          number ? h("span", { class: hit.wenhao ? "wenhao" : "mono", text: number }) : null,
          h("span", { text: day(hit.issued_at) }),
          hit.case_no ? h("span", { text: "案件 " + hit.case_no }) : null,
          hit.from_scan ? h("span", { class: "badge", text: "匹配自签字原件扫描件" }) : null),
        h("p", { class: "snippet" }, W.markedText(hit.snippet))));
    });
    if (!r.hits.length) list.appendChild(h("li", { class: "empty", text: "没有找到符合条件的文书。可减少关键词或放宽筛选条件。" }));
    var more = r.total_relation === "gte";  // at least this many pages
    var pages = Math.max(1, Math.ceil(r.total / PER_PAGE));
    pager.textContent = "";
    pager.hidden = pages <= 1;
    if (pages > 1) {
      pager.appendChild(r.page > 1 ? link(r.page - 1, "‹ 上一页") : h("span", { class: "disabled", text: "‹ 上一页" }));
      pager.appendChild(h("span", { text: "第 " + r.page + " / " + pages.toLocaleString("en-US") + (more ? "+" : "") + " 页" }));
      pager.appendChild(r.page < pages || (more && r.hits.length === PER_PAGE) ? link(r.page + 1, "下一页 ›") : h("span", { class: "disabled", text: "下一页 ›" }));
    }
    facets.textContent = "";
    var byType = (r.facets || {}).type || {};
    Object.keys(byType).forEach(function (t) {
      var q2 = query(1);
      q2.set("type", t);
      facets.appendChild(h("a", { class: "chip", href: "?" + q2.toString() }, (TYPES[t] || t) + " ", h("b", { text: byType[t].toLocaleString("en-US") + (more ? "+" : "") })));
    });
  }

  function run() {
    var q = query(page);
    q.set("per_page", String(PER_PAGE));
    status.textContent = "";
    status.appendChild(h("span", { class: "spinner small", "aria-hidden": "true" }));
    status.appendChild(document.createTextNode(" 正在检索…"));
    W.api("/api/v1/search?" + q.toString()).then(function (resp) {
      return resp.json().then(function (r) {
        if (!resp.ok) {
          failed(r);
          return;
        }
        status.className = "muted";
        status.removeAttribute("role");
        render(r);
      });
    }).catch(function () { failed({ message: "无法连接服务器，请稍后重试。" }); });
  }
  /* An error replaces the results: no stale hits, facets or pager stay under it as if they
   * matched. The messages name the fields (nested ones flattened). */
  function failed(r) {
    var msgs = [];
    (function flat(v) {
      if (Array.isArray(v)) v.forEach(flat);
      else if (v && typeof v === "object") Object.keys(v).forEach(function (k) { flat(v[k]); });
      else if (v) msgs.push(String(v));
    })(r.errors || {});
    var head = (r.message || "").replace(/[。：:\s]+$/, "") || "检索条件有误";
    list.textContent = "";
    facets.textContent = "";
    pager.textContent = "";
    pager.hidden = true;
    status.className = "flash flash-error";
    status.setAttribute("role", "alert");
    status.textContent = head + (msgs.length ? "：" + msgs.join("；") : "");
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    page = 1;
    history.pushState(null, "", "?" + query(1).toString());
    run();
  });
  window.addEventListener("popstate", function () { window.location.reload(); });
  run();
})();

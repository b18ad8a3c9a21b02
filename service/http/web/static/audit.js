/* 审计: chain status (GET /api/v1/audit/verify), numbering gaps (GET /api/v1/numbers/gaps),
 * the events (GET /api/v1/audit/events) and, when the service has them, checkpoints and
 * fixity (/api/v1/audit/checkpoints, /api/v1/audit/fixity); each drawn as it arrives. */
(function () {
  "use strict";
  var W = window.Wenshu;
  var h = W.h;
  if (!document.getElementById("chain")) return;
  var ACTIONS = JSON.parse(document.getElementById("audit-actions").textContent);
  var LINKS = JSON.parse(document.getElementById("audit-links").textContent);
  var TYPES = JSON.parse(document.getElementById("audit-types").textContent);

  function json(resp) {
    return resp.json().then(function (body) {
      if (!resp.ok) throw new Error(body.message || String(resp.status));
      return body;
    });
  }
  function when(iso) { return W.localTime(iso); }
  function spinner(el, text) {
    el.textContent = "";
    el.appendChild(h("span", { class: "spinner small", "aria-hidden": "true" }));
    el.appendChild(document.createTextNode(" " + text));
  }
  function fact(dl, label, value, cls) {
    dl.appendChild(h("dt", { text: label }));
    dl.appendChild(h("dd", { class: cls || null }, value));
  }

  /* ---- chain and checkpoints ---- */
  var chainStatus = document.getElementById("chain-status");
  var chainFacts = document.getElementById("chain-facts");
  function chain() {
    chainStatus.className = "verify-status pending";
    spinner(chainStatus, "正在逐条重算审计链哈希…");
    chainFacts.hidden = true;
    W.api("/api/v1/audit/verify").then(json).then(function (r) {
      chainStatus.className = "verify-status " + (r.ok ? "ok" : "bad");
      chainStatus.textContent = r.ok ? "✔ 审计链完整：每一条事件的哈希都与链相符"
        : "✘ 审计链异常：" + (r.problem || "第 " + r.first_bad_seq + " 号事件不符");
      chainFacts.textContent = "";
      fact(chainFacts, "已校验事件", r.checked + " 条（整条链，含全部机构）");
      if (r.head_seq !== undefined) fact(chainFacts, "链头序号", String(r.head_seq));
      fact(chainFacts, "链头哈希", r.head_hash, "mono hash");
      if (r.checkpoints) {
        var cp = r.checkpoints;
        fact(chainFacts, "检查点", h("span", { class: "badge " + (cp.ok ? "badge-ok" : "badge-bad"),
          text: cp.ok ? cp.checked + " 个，签名与链相符" : (cp.problems || []).length + " 个不符" }));
      }
      if (!r.ok) fact(chainFacts, "首个异常序号", String(r.first_bad_seq));
      chainFacts.hidden = false;
    }).catch(function (e) {
      chainStatus.className = "verify-status bad";
      chainStatus.textContent = "无法校验审计链：" + e.message;
    });
  }
  document.getElementById("chain-again").addEventListener("click", function () {
    chain();
    if (LINKS.checkpoints) checkpoints();
  });
  chain();

  var REASONS = { interval: "定时", manual: "手动", "export": "导出", report: "报告", cli: "命令行" };
  var cpBox = document.getElementById("checkpoints");
  function checkpoints() {
    spinner(cpBox, "正在读取检查点…");
    W.api(LINKS.checkpoints).then(json).then(function (r) {
      var rows = r.items || [];
      cpBox.textContent = "";
      if (!rows.length) { cpBox.appendChild(h("p", { class: "muted", text: "尚无检查点。" })); return; }
      cpBox.appendChild(h("p", { class: "small", text: "共 " + rows.length + " 个，最近 " + Math.min(rows.length, 5) + " 个：" }));
      cpBox.appendChild(h("table", { class: "table compact" },
        h("thead", {}, h("tr", {}, ["链头序号", "签署时间", "原因", "链头哈希"].map(function (t) { return h("th", { text: t }); }))),
        h("tbody", {}, rows.slice(-5).reverse().map(function (c) {
          return h("tr", {},
            h("td", { class: "num", text: String(c.seq) }),
            h("td", { class: "nowrap", text: when(c.at) }),
            h("td", { text: REASONS[c.reason] || c.reason || "" }),
            h("td", { class: "mono small", title: c.head_hash, text: (c.head_hash || "").slice(0, 16) + "…" }));
        }))));
    }).catch(function (e) { cpBox.textContent = "无法读取检查点：" + e.message; });
  }
  if (LINKS.checkpoints) checkpoints();
  var cpNow = document.getElementById("checkpoint-now");
  if (cpNow) {
    cpNow.addEventListener("click", function () {
      cpNow.disabled = true;
      W.api(LINKS.checkpoint_now, {}).then(json).then(checkpoints).catch(function (e) {
        cpBox.textContent = "无法签署检查点：" + e.message;
      }).finally(function () { cpNow.disabled = false; });
    });
  }

  /* ---- numbering gaps ---- */
  var gapsBox = document.getElementById("gaps-result");
  function nums(list) {
    return (list || []).map(function (x) { return typeof x === "object" ? x.number || String(x.n) : String(x); });
  }
  function gaps(year) {
    spinner(gapsBox, "正在核对编号…");
    W.api("/api/v1/numbers/gaps?year=" + encodeURIComponent(year)).then(json).then(function (r) {
      gapsBox.textContent = "";
      gapsBox.className = "";
      var missing = r.missing || [];
      gapsBox.appendChild(h("p", { class: "verify-status " + (missing.length ? "bad" : "ok"),
        text: missing.length ? "✘ 发现缺号 " + missing.length + " 个" : "✔ 编号连续：每个号都有着落" }));
      if (missing.length) {
        gapsBox.appendChild(h("ul", { class: "problems" }, missing.map(function (m) {
          return h("li", { text: typeof m === "object" ? (m.number || m.n) + (m.reason ? "：" + m.reason : "") : String(m) });
        })));
      }
      if (!r.series.length) { gapsBox.appendChild(h("p", { class: "muted", text: year + " 年尚未使用任何编号。" })); return; }
      gapsBox.appendChild(h("table", { class: "table compact" },
        h("thead", {}, h("tr", {}, ["序列", "已用", "作废", "注销", "缺号"].map(function (t) { return h("th", { text: t }); }))),
        h("tbody", {}, r.series.map(function (s) {
          return h("tr", {},
            h("td", {}, h("span", { class: "badge", text: s.kind === "wenhao" ? "文号" : "档号" }), " ",
              h("span", { class: "small", text: s.label || s.series })),
            h("td", { class: "num", text: String(s.issued) }),
            h("td", { text: nums(s.withdrawn).join("、") || "—" }),
            h("td", { text: nums(s.voided).join("、") || "—" }),
            h("td", { class: (s.missing || []).length ? "bad" : null, text: nums(s.missing).join("、") || "无" }));
        }))));
    }).catch(function (e) { gapsBox.textContent = "无法核对编号：" + e.message; });
  }
  var gapsForm = document.getElementById("gaps-form");
  gapsForm.addEventListener("submit", function (ev) { ev.preventDefault(); gaps(gapsForm.elements.year.value); });
  gaps(document.getElementById("gaps").dataset.year);

  /* ---- fixity: the cycle's progress, the last check, a slice (or a full check) on demand ---- */
  var fixityBox = document.getElementById("fixity-result");
  var fixityBtn = document.getElementById("fixity-run");
  var fixityFull = document.getElementById("fixity-full");
  function cycleBox(c) {
    var box = document.getElementById("fixity-cycle");
    box.textContent = "";
    if (!c) return;
    var total = c.documents_checked + c.documents_left;
    var pct = total ? Math.floor(100 * c.documents_checked / total) : 100;
    box.appendChild(h("p", {}, "第 " + c.cycle + " 轮（" + c.cycle_days + " 天一轮）：已核对 " +
      c.documents_checked + " 份，尚余 " + c.documents_left + " 份（本机构共 " + c.documents_total + " 份）",
      h("progress", { max: "100", value: String(pct), title: pct + "%" })));
    var dl = h("dl", { class: "facts" });
    fact(dl, "开始于", c.started_at ? when(c.started_at) : "尚未开始");
    fact(dl, "应完成于", c.ends_at ? when(c.ends_at) : "—");
    fact(dl, "游标", "第 " + c.position_seq + " 号事件（链头第 " + c.head_seq + " 号）" +
      (c.unfinished_through_seq ? "；中断的一段至第 " + c.unfinished_through_seq + " 号，下次续查" : ""));
    fact(dl, "本轮发现问题", h("span", { class: "badge " + (c.problems ? "badge-bad" : "badge-ok"),
      text: c.problems ? c.problems + " 份文书" : "无" }));
    if (c.running_until) fact(dl, "正在运行", "租约至 " + when(c.running_until));
    box.appendChild(dl);
    if (!(c.runs || []).length) return;
    box.appendChild(h("table", { class: "table small" },
      h("thead", {}, h("tr", {}, ["时间", "轮次", "事件", "本机构文书", "有问题"].map(function (t) {
        return h("th", { text: t });
      }))),
      h("tbody", {}, c.runs.map(function (r) {
        return h("tr", {},
          h("td", { text: when(r.at) }),
          h("td", { text: "第 " + r.cycle + " 轮" + (r.cycle_complete ? "（本轮完成）" : "") }),
          h("td", { text: "第 " + (r.after_seq + 1) + "–" + r.through_seq + " 号" }),
          h("td", { text: r.documents + " 份" }),
          h("td", { class: r.failed_documents || (r.problems || []).length ? "bad" : null,
            text: r.failed_documents + " 份" + ((r.problems || []).length ? "；" + r.problems.join("；") : "") }));
      }))));
  }
  function fixityLast() {
    var box = document.getElementById("fixity-last");
    W.api(LINKS.fixity_last).then(json).then(function (r) {
      cycleBox(r.cycle);
      box.textContent = "";
      if (!r.last_check) { box.appendChild(h("p", { class: "muted", text: "尚未做过完整性检查。" })); return; }
      var ok = r.last_check.details && r.last_check.details.ok !== false && !(r.failures || []).length;
      var how = r.last_check.details && r.last_check.details.mode === "full" ? "（完整检查）" : "";
      box.appendChild(h("p", {}, "上次检查" + how + " " + when(r.last_check.at) + "：",
        h("span", { class: "badge " + (ok ? "badge-ok" : "badge-bad"), text: ok ? "正常" : (r.failures || []).length + " 项异常" })));
    }).catch(function () { box.textContent = ""; });
  }
  function fixityRun(body, busyText) {
    fixityBtn.disabled = fixityFull.disabled = true;
    var done = W.busy(busyText);
    W.api(LINKS.fixity_run, body).then(json).then(function (r) {
      fixityBox.textContent = "";
      var counts = Object.keys(r.checked || {}).map(function (org) { return org + " " + r.checked[org] + " 件"; });
      fixityBox.appendChild(h("p", { class: "verify-status " + (r.ok ? "ok" : "bad"),
        text: r.ok ? "✔ 完整性检查通过" : "✘ 发现 " + r.problems.length + " 项异常" }));
      if (r.mode === "cycle") {
        fixityBox.appendChild(h("p", { class: "small muted", text: "第 " + r.cycle + " 轮" +
          (r.resumed ? "续查中断的一段" : "检查一段") + "：第 " + (r.after_seq + 1) + "–" + r.through_seq + " 号事件" +
          (r.cycle_complete ? "；本轮已完成，下次开始第 " + (r.cycle + 1) + " 轮" : "") }));
      }
      if (counts.length) fixityBox.appendChild(h("p", { class: "small muted", text: "已核对文书：" + counts.join(" · ") }));
      else fixityBox.appendChild(h("p", { class: "small muted", text: "这一段没有本机构的文书。" }));
      if (r.problems.length) {
        fixityBox.appendChild(h("ul", { class: "problems" }, r.problems.map(function (p) {
          return h("li", { class: "small", text: p.message + (p.document_id ? "（文书 " + p.document_id + "）" : "") });
        })));
      }
      if (LINKS.fixity_last) fixityLast();
    }).catch(function (e) {
      fixityBox.textContent = "无法完成完整性检查：" + e.message;
    }).finally(function () { done(); fixityBtn.disabled = fixityFull.disabled = false; });
  }
  if (fixityBtn) {
    if (LINKS.fixity_last) fixityLast();
    fixityBtn.addEventListener("click", function () {
      fixityRun({}, "正在核对周期的下一段：审计链、检查点、归档文件与签章…");
    });
    fixityFull.addEventListener("click", function () {
      fixityRun({ full: true }, "正在核对审计链、检查点、全部归档文件与签章…");
    });
  }

  /* ---- events ---- */
  var evForm = document.getElementById("events-form");
  var evBody = document.getElementById("events-body");
  var evStatus = document.getElementById("events-status");
  var more = document.getElementById("events-more");
  var PER_PAGE = 50;
  var pageNo = 1;
  var DETAIL_KEYS = { wenhao: "文号", archive_no: "档号", type: "类型", reason: "原因", ip: "IP",
    q: "检索词", total: "命中", ok: "结果", role: "角色", title: "标题", file: "文件",
    sha256: "SHA-256", format: "格式", rows: "行数", year: "年度", numbers: "文号数",
    filters: "筛选条件", name: "名称", returned: "返回条数", version: "版本", pages: "页数",
    from: "起始", to: "截止", comment: "意见", org: "机构", actor: "操作人", action: "操作",
    document: "文书", date_from: "起始日期", date_to: "截止日期", order: "顺序", page: "页码",
    per_page: "每页", object_id: "对象", after_seq: "序号之后", case_no: "案件编号",
    docx_sha256: "Word 文档哈希", input_sha256: "输入哈希", pdf_sha256: "PDF 哈希",
    seal_sha256: "印章哈希", seal_drawn: "测试用绘制印章", attachments: "附件", supersedes: "更正对象",
    draft_id: "草稿", signed: "签章", page_count: "页数", retention: "保管期限",
    on_view: "打开页面时自动验证" };
  var FILES = { pdf: "PDF", docx: "Word 文档" };
  function value(k, v) {
    if (v === true) return "是";
    if (v === false) return "否";
    if (k === "type") return TYPES[v] || v;
    if (k === "file") return FILES[v] || v;
    if (k === "action") return ACTIONS[v] || v;
    if (v !== null && typeof v === "object") {
      return Object.keys(v).map(function (x) { return (DETAIL_KEYS[x] || x) + "：" + value(x, v[x]); }).join("，");
    }
    return String(v);
  }
  function details(d) {
    var keys = Object.keys(d || {}).filter(function (k) { return d[k] !== null && d[k] !== undefined && d[k] !== ""; });
    if (!keys.length) return "";
    var dl = h("dl", { class: "event-details" });
    keys.forEach(function (k) {
      dl.appendChild(h("dt", { text: DETAIL_KEYS[k] || k }));
      dl.appendChild(h("dd", { class: k === "sha256" ? "mono hash" : null, text: value(k, d[k]) }));
    });
    return dl;
  }
  var prev = document.getElementById("events-prev");
  function events(page) {
    pageNo = page;
    var q = new URLSearchParams({ per_page: String(PER_PAGE), order: "desc", page: String(page) });
    ["action", "actor", "document", "date_from", "date_to"].forEach(function (name) {
      var el = evForm.elements[name];
      if (el && el.value.trim()) q.set(name, el.value.trim());
    });
    var exp = new URLSearchParams(q);
    exp.delete("page"); exp.delete("per_page"); exp.delete("order");
    exp.set("format", "xlsx");
    document.getElementById("events-xlsx").href = "/api/v1/audit/events?" + exp.toString();
    exp.set("format", "csv");
    document.getElementById("events-csv").href = "/api/v1/audit/events?" + exp.toString();
    spinner(evStatus, "正在读取事件…");
    evStatus.className = "muted";
    W.api("/api/v1/audit/events?" + q.toString()).then(json).then(function (r) {
      evBody.textContent = "";
      r.events.forEach(function (e) {
        var bad = e.action === "auth.login_failed" || e.action === "document.issue_failed";
        evBody.appendChild(h("tr", { class: bad ? "row-warn" : null },
          h("td", { class: "num", text: String(e.seq) }),
          h("td", { class: "nowrap", text: when(e.at) }),
          h("td", { text: e.actor }),
          h("td", { class: "nowrap" }, h("span", { class: "badge", title: e.action, text: ACTIONS[e.action] || e.action })),
          h("td", { class: "mono small" }, e.object_id && e.action.indexOf("document.") === 0 && e.action !== "document.issue_failed"
            ? h("a", { href: "/documents/" + encodeURIComponent(e.object_id), text: e.object_id }) : e.object_id || ""),
          h("td", { class: "small" }, details(e.details)),
          h("td", { class: "mono small col-opt", title: e.hash, text: e.hash.slice(0, 12) + "…" })));
      });
      if (!r.events.length) evBody.appendChild(h("tr", {}, h("td", { colspan: "7", class: "empty", text: "没有符合条件的事件。" })));
      var pages = Math.max(1, Math.ceil(r.total / PER_PAGE));
      var whose = r.scope ? "本机构（" + (r.scope.length === 1 && evStatus.dataset.orgName || r.scope.join("、")) + "）" : "全部机构";
      evStatus.textContent = whose + "符合条件的事件共 " + r.total + " 条，新的在前；第 " +
        Math.min(page, pages) + " / " + pages + " 页";
      more.hidden = page >= pages;
      prev.hidden = page <= 1;
    }).catch(function (e) {
      evBody.textContent = "";
      more.hidden = prev.hidden = true;
      evStatus.className = "flash flash-error";
      evStatus.textContent = "无法读取事件：" + e.message;
    });
  }
  evForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    events(1);
  });
  more.addEventListener("click", function () { events(pageNo + 1); });
  prev.addEventListener("click", function () { events(pageNo - 1); });
  events(1);
})();

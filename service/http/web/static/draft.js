/* A draft's life on the server (拟稿 → 提交签发 → 退回 | 签发 → 编号发文), on the page of one draft.
 *
 * The form autosaves: the first change creates the draft (POST /api/v1/drafts) and the address
 * becomes /drafts/<id>; later changes are saved (PATCH, with the version they started from)
 * a moment after typing stops, when a field loses focus and when the page is left. Reload and
 * Back draw the form again from the server's draft, never from the browser. The page re-reads
 * the draft on load and when it comes back from the back-forward cache, and shows only the
 * controls that still apply to its state and to the user's role. 编号发文 sends an
 * Idempotency-Key made once per page, so pressing it again never makes a second number. */
(function () {
  "use strict";
  var W = window.Wenshu;
  var F = window.WenshuDocForm;
  var h = W.h;
  var root = document.getElementById("draft-page");
  if (!root || !F) return;
  var cfg = root.dataset;
  var user = cfg.user;
  var needsApproval = cfg.needsApproval === "true";
  var mayDraft = cfg.mayDraft === "true";
  var mayApprove = cfg.mayApprove === "true";
  var mayIssue = cfg.mayIssue === "true";
  var SAVE_AFTER_MS = 1200;

  var STATES = {
    draft: ["草稿", "badge-info"],
    submitted: ["待签发", "badge-warn"],
    returned: ["已退回", "badge-bad"],
    approved: ["已签发，待编号发文", "badge-ok"],
    issued: ["已编号发文", "badge-ok"],
    withdrawn: ["已撤回", "badge-muted"],
  };
  var ACTIONS = {
    create: "拟稿", update: "保存", submit: "提交签发", return: "退回修改", approve: "签发",
    issue: "编号发文", withdraw: "撤回",
  };
  var BADGE = { return: "badge-bad", approve: "badge-ok", issue: "badge-ok", withdraw: "badge-muted", submit: "badge-warn" };
  function actor(e) { return e.by || e.actor || ""; }

  function issueKeyOnce() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  var issueKey = issueKeyOnce();  // one per page instance: a second press repeats the first

  var draft = null;     // the draft as the server last answered
  var id = cfg.draftId || null;
  var version = 0;
  var dirty = false;    // typed since the last save
  var timer = null;
  var inflight = null;  // the save under way
  var conflict = false; // another page saved a newer version: stop saving here
  var failedSave = false;

  var $ = function (sel) { return document.getElementById(sel); };
  var lock = $("docform-lock");
  var status = $("save-status");

  function url(tail) { return "/api/v1/drafts/" + encodeURIComponent(id) + (tail || ""); }
  function state() { return draft ? draft.state : "new"; }
  function mine() { return !draft || draft.created_by === user; }
  function editable() {
    return mayDraft && mine() && !conflict && (!draft || state() === "draft" || state() === "returned");
  }

  /* ---- the save status line ----------------------------------------------------------------- */

  function setStatus(kind, text, extra) {
    status.className = "save-status " + kind;
    status.textContent = text;
    if (extra) status.appendChild(extra);
  }
  function savedText() {
    if (!draft) return "尚未保存：填写任一项后自动保存为草稿";
    return "已保存（第 " + draft.version + " 版，" + W.localTime(draft.updated_at, true) + "）";
  }

  /* ---- saving --------------------------------------------------------------------------------- */

  function createBody(data) {
    var b = { type: cfg.type, org: F.org(), data: data };
    if (F.caseNo()) b.case_no = F.caseNo();
    if (cfg.supersedes) b.supersedes = cfg.supersedes;
    return b;
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(function () { save(); }, ms);
  }

  function save(extra) {
    clearTimeout(timer);
    timer = null;
    if (!editable()) return Promise.resolve(!dirty);
    if (inflight) return inflight.then(function () { return dirty ? save(extra) : !failedSave; });
    if (!dirty && id) return Promise.resolve(true);
    dirty = false;
    var data = F.collect();
    setStatus("saving", "正在保存…");
    var creating = !id;
    var req = creating
      ? W.api("/api/v1/drafts", createBody(data), "POST", extra)
      : W.api(url(), { version: version, data: data }, "PATCH", extra);
    inflight = req.then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (p) {
        if (resp.ok) {
          failedSave = false;
          apply(p);
          if (dirty) setStatus("dirty", "有未保存的修改…");
          else setStatus("saved", savedText());
          if (creating) window.history.replaceState(null, "", "/drafts/" + encodeURIComponent(p.id));
          return true;
        }
        dirty = true;
        failedSave = true;
        if (resp.status === 409 && p.code === "stale_version") {
          showConflict();
        } else if (resp.status === 409) {  // no longer editable (submitted elsewhere, …)
          setStatus("error", "未保存：" + (p.message || "草稿状态已改变"));
          load(true);
        } else if (resp.status === 422 || resp.status === 400) {
          setStatus("error", "未保存：" + (p.message || "输入有误"));
          F.showErrors(p.message, p.errors);
        } else if (resp.status === 401) {
          setStatus("error", "未保存：登录已过期，请在新标签页重新登录后回到本页");
        } else {
          setStatus("error", "未保存：" + (p.message || "服务器错误（" + resp.status + "）") + "，稍后自动重试");
          schedule(8000);
        }
        return false;
      });
    }, function () {
      dirty = true;
      failedSave = true;
      setStatus("error", "未保存：无法连接服务器，稍后自动重试");
      schedule(8000);
      return false;
    }).finally(function () { inflight = null; });
    return inflight;
  }

  function showConflict() {
    conflict = true;
    render();
    $("draft-conflict").hidden = false;
    setStatus("error", "未保存：本草稿已在其他窗口或标签页中修改");
  }
  $("conflict-reload").addEventListener("click", function () { window.location.reload(); });

  var form = F.form;
  function typed() {
    if (!editable()) return;
    dirty = true;
    setStatus("dirty", "有未保存的修改…");
    schedule(SAVE_AFTER_MS);
  }
  form.addEventListener("input", typed);
  form.addEventListener("change", typed);
  form.addEventListener("focusout", function () { if (dirty) save(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden" && dirty) save({ keepalive: true });
  });
  window.addEventListener("pagehide", function () { if (dirty) save({ keepalive: true }); });
  window.addEventListener("beforeunload", function (ev) {
    if (!dirty && !inflight) return;
    if (dirty && !inflight) save({ keepalive: true });
    if (conflict || failedSave) { ev.preventDefault(); ev.returnValue = ""; }
  });

  /* ---- reading the draft ---------------------------------------------------------------------- */

  function apply(p) {
    draft = p;
    id = p.id;
    version = p.version;
    render();
  }

  /* Re-read the draft; the form is drawn again from it unless what is typed here is newer. */
  function load(refill) {
    if (!id) return Promise.resolve();
    return W.api(url()).then(function (resp) {
      return resp.json().then(function (p) {
        if (!resp.ok) {
          setStatus("error", p.message || "无法读取草稿（" + resp.status + "）");
          return;
        }
        var newer = !draft || p.version !== version;
        if (dirty && newer && draft) { draft = p; showConflict(); return; }
        if (refill || newer || !editableState(p)) {
          F.fill(p.data || {});
          F.setOrg(p.org);
          F.setCase(p.case_no);
        }
        apply(p);
      });
    }).catch(function () { setStatus("error", "无法连接服务器，请检查网络后刷新本页"); });
  }
  function editableState(p) { return p.state === "draft" || p.state === "returned"; }

  /* ---- what the page shows for the draft's state ---------------------------------------------- */

  function last(action) {
    var hist = (draft && draft.history) || [];
    for (var i = hist.length - 1; i >= 0; i--) if (hist[i].action === action) return hist[i];
    return null;
  }

  function show(idOf, yes) { var el = $(idOf); if (el) el.hidden = !yes; }

  function render() {
    var st = state();
    var s = STATES[st] || ["新草稿（未保存）", "badge-muted"];
    var badge = $("draft-state");
    badge.textContent = s[0];
    badge.className = "badge " + s[1];
    $("draft-holder").textContent = holderText(st);
    if (draft && draft.data && draft.data.title) $("draft-title").textContent = draft.data.title;

    var canEdit = editable();
    lock.disabled = !canEdit;
    form.classList.toggle("readonly", !canEdit);
    // the org and the case are chosen when the draft is made
    $("f-org").disabled = !!id || $("f-org").options.length < 2;
    $("f-case").disabled = !!id;
    $("case-fixed").hidden = !id;

    if (draft && typeof draft.needs_approval === "boolean") needsApproval = draft.needs_approval;
    var drafterActs = canEdit;
    show("btn-save", drafterActs);
    show("btn-sample", drafterActs);
    show("btn-clear", drafterActs);
    show("btn-submit", drafterActs && needsApproval);
    var issueNow = (drafterActs && !needsApproval) || (st === "approved" && mayIssue);
    show("btn-issue", issueNow);
    $("btn-issue").textContent = st === "approved" ? "编号发文" : cfg.issueLabel;
    var reviewing = st === "submitted" && mayApprove && !mine();
    show("btn-return", reviewing);
    show("btn-approve", reviewing);
    show("btn-withdraw", !!draft && mine() && mayDraft && ["draft", "returned", "submitted", "approved"].indexOf(st) >= 0);
    show("row-more", drafterActs || $("btn-withdraw").hidden === false);
    $("action-note").textContent = noteText(st, reviewing);

    if (!conflict && !inflight && !dirty) setStatus(draft ? "saved" : "", savedText());
    show("save-status", canEdit || conflict);

    var ret = last("return");
    show("return-note", !!ret && (st === "returned" || st === "draft"));
    if (ret) {
      $("return-comment").textContent = ret.comment || "";
      $("return-by").textContent = "签发人 " + actor(ret) + " 退回于 " + W.localTime(ret.at);
    }
    var appr = last("approve");
    show("approve-note", !!appr && (st === "approved" || st === "issued"));
    if (appr) {
      $("approve-by").textContent = actor(appr) + " 签发于 " + W.localTime(appr.at);
      $("approve-comment").textContent = appr.comment || "";
      show("approve-comment", !!appr.comment);
    }

    var doc = draft && draft.document;
    show("draft-issued", st === "issued" && !!doc);
    if (doc) {
      $("issued-no").textContent = doc.wenhao || doc.archive_no;
      $("issued-link").href = "/documents/" + encodeURIComponent(doc.id) + "?issued=1";
      $("issued-archive").textContent = doc.wenhao ? "档号 " + doc.archive_no + "。" : "";
    }
    renderProblems(canEdit);
    renderHistory();
    renderVersions();
  }

  function holderText(st) {
    if (!draft) return "新拟稿，尚未保存";
    var by = "拟稿人 " + draft.created_by;
    return by + "　·　" + ({
      draft: "由拟稿人修改中",
      returned: "已退回拟稿人修改",
      submitted: "等待本机关签发人签发",
      approved: "已签发，等待编号发文（分配" + (cfg.numbered === "true" ? "文号" : "档号") + "、签章、归档）",
      issued: "已编号发文并归档",
      withdrawn: "已撤回，不再办理",
    }[st] || "");
  }

  function noteText(st, reviewing) {
    if (reviewing) return "签发：同意按本稿发文（签发日期即成文日期）；退回：请拟稿人按意见修改。";
    if (st === "approved") return "编号发文时分配" + (cfg.numbered === "true" ? "文号" : "档号") + "、生成 PDF/A、签章并归档，完成后不能修改。";
    if (st === "submitted") return "已提交签发，签发人处理前不能修改；如需修改可撤回后重新拟稿。";
    if (st === "issued" || st === "withdrawn") return "";
    if (needsApproval) return "草稿自动保存。" + "预览不占用文号。提交后由本机关签发人签发，签发后方可编号发文。";
    return "草稿自动保存。预览不占用档号。签发后生成 PDF/A、签章、归档，不能修改或删除。";
  }

  function renderProblems(canEdit) {
    var probs = (draft && draft.problems) || {};
    var n = Object.keys(probs).length;
    show("problems-line", canEdit && n > 0);
    $("problems-count").textContent = String(n);
  }
  $("problems-show").addEventListener("click", function () {
    F.showErrors("提交前还需完善以下内容", (draft && draft.problems) || {});
  });

  function renderHistory() {
    var list = $("history");
    list.textContent = "";
    var hist = (draft && draft.history) || [];
    show("history-empty", !hist.length);
    // autosave makes many versions: one line for a run of saves by the same person
    var rows = [];
    hist.forEach(function (e) {
      var prev = rows[rows.length - 1];
      if (e.action === "update" && prev && prev.action === "update" && actor(prev) === actor(e)) {
        prev.until = e;
        prev.saves += 1;
      } else {
        rows.push(Object.assign({ saves: 1, until: null }, e));
      }
    });
    rows.forEach(function (e) {
      var versions = e.until ? "第 " + e.version + "–" + e.until.version + " 版（" + e.saves + " 次保存）"
        : e.version ? "第 " + e.version + " 版" : "";
      list.appendChild(h("li", { class: "event-" + e.action },
        h("span", { class: "when", text: W.localTime((e.until || e).at) }),
        h("strong", { text: actor(e) }),
        h("span", { class: "badge " + (BADGE[e.action] || "badge-info"), text: ACTIONS[e.action] || e.action }),
        versions ? h("span", { class: "muted small", text: versions }) : null,
        e.comment ? h("q", { class: "comment", text: e.comment }) : null));
    });
  }

  /* ---- 留痕: compare two saved versions field by field ------------------------------------------ */

  var cmpA = $("cmp-a");
  var cmpB = $("cmp-b");
  function renderVersions() {
    var n = draft ? draft.version : 0;
    show("compare-card", n >= 2);
    if (n < 2 || cmpA.options.length === n) return;
    var a = cmpA.value, b = cmpB.value;
    [cmpA, cmpB].forEach(function (sel) {
      sel.textContent = "";
      for (var i = 1; i <= n; i++) sel.appendChild(h("option", { value: String(i), text: "第 " + i + " 版" }));
    });
    cmpA.value = a && +a < n ? a : String(n - 1);
    cmpB.value = b && +b > +cmpA.value ? b : String(n);
  }

  var top = { kind: "object", fields: [] };
  F.spec.sections.forEach(function (s) { top.fields = top.fields.concat(s.fields); });
  var BLOCK = { level: "层级", heading: "标题", text: "内容" };

  function childNode(node, key) {
    if (!node) return null;
    if (node.kind === "object") return node.fields.find(function (f) { return f.name === key; }) || null;
    if (node.kind === "block") {
      if (key === "level") return { label: BLOCK.level, kind: "choice", choices: node.levels };
      return { label: BLOCK[key] || key, kind: "text" };
    }
    return null;
  }
  function choiceText(node, v) {
    var hit = (node.choices || []).find(function (c) { return String(c[0]) === String(v); });
    return hit ? hit[1] : String(v);
  }
  function flatten(value, node, path, label, out) {
    if (value === undefined || value === null || value === "") return;
    if (node && node.kind === "multi" && Array.isArray(value)) {
      out[path] = [label, value.map(function (v) { return choiceText(node, v); }).join("、")];
    } else if (node && node.kind === "choice") {
      out[path] = [label, choiceText(node, value)];
    } else if (Array.isArray(value)) {
      value.forEach(function (v, i) {
        var counter = node && node.item_counter ? node.item_counter.replace("{n}", String(i + 1)) : "第 " + (i + 1) + " 项";
        flatten(v, node && node.item, path + "." + i, label + " › " + counter, out);
      });
    } else if (typeof value === "object") {
      Object.keys(value).forEach(function (k) {
        var child = childNode(node, k);
        flatten(value[k], child, path ? path + "." + k : k, (label ? label + " › " : "") + (child ? child.label : k), out);
      });
    } else {
      out[path] = [label, String(value)];
    }
  }

  $("cmp-go").addEventListener("click", function () {
    var a = cmpA.value, b = cmpB.value;
    var result = $("cmp-result");
    result.textContent = "正在读取…";
    Promise.all([a, b].map(function (n) {
      return W.api(url("/versions/" + encodeURIComponent(n))).then(function (resp) {
        return resp.json().then(function (p) { if (!resp.ok) throw new Error(p.message || resp.status); return p; });
      });
    })).then(function (vs) {
      var left = {}, right = {};
      flatten(vs[0].data || {}, top, "", "", left);
      flatten(vs[1].data || {}, top, "", "", right);
      var paths = Object.keys(left);
      Object.keys(right).forEach(function (p) { if (!(p in left)) paths.push(p); });
      var changed = paths.filter(function (p) { return (left[p] || [])[1] !== (right[p] || [])[1]; });
      result.textContent = "";
      var who = function (v, n) {
        return "第 " + n + " 版" + (v.saved_by ? "：" + v.saved_by + "，" + W.localTime(v.saved_at) : "");
      };
      if (vs[0].saved_by || vs[1].saved_by) {
        result.appendChild(h("p", { class: "muted small", text: who(vs[0], a) + "；" + who(vs[1], b) }));
      }
      if (!changed.length) {
        result.appendChild(h("p", { class: "empty", text: "两个版本内容相同" }));
        return;
      }
      result.appendChild(h("div", { class: "table-scroll" }, h("table", { class: "table compact diff" },
        h("thead", {}, h("tr", {}, h("th", { text: "字段" }), h("th", { text: "第 " + a + " 版" }), h("th", { text: "第 " + b + " 版" }))),
        h("tbody", {}, changed.map(function (p) {
          var l = left[p], r = right[p];
          return h("tr", { "data-path": p },
            h("td", { class: "diff-field", text: (l || r)[0] }),
            h("td", {}, l ? h("del", { text: l[1] }) : h("span", { class: "muted", text: "（空）" })),
            h("td", {}, r ? h("ins", { text: r[1] }) : h("span", { class: "muted", text: "（空）" })));
        })))));
      result.appendChild(h("p", { class: "muted small", text: "共 " + changed.length + " 处不同" }));
    }).catch(function (e) {
      result.textContent = "无法读取版本：" + e.message;
    });
  });

  /* ---- the acts: submit, return, approve, issue, withdraw -------------------------------------- */

  function act(name, body, busyText, extra) {
    F.clearErrors();
    var done = W.busy(busyText);
    return W.api(url("/" + name), body, "POST", extra).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (p) {
        if (resp.ok) return load(false).then(function () { return true; });
        if (resp.status === 409) {
          return load(false).then(function () { F.failed(resp, p); return false; });
        }
        F.failed(resp, p);
        return false;
      });
    }).catch(function () {
      F.showErrors("无法连接服务器，请检查网络后重试。", {});
      return false;
    }).finally(done);
  }

  $("btn-save").addEventListener("click", function () {
    dirty = true;
    save();
  });

  $("btn-submit").addEventListener("click", function () {
    F.clearErrors();
    save().then(function (ok) {
      if (!ok) return;
      var probs = (draft && draft.problems) || {};
      if (Object.keys(probs).length) {
        F.showErrors("提交前还需完善以下内容", probs);
        return;
      }
      W.confirm("提交本机关签发人签发？提交后不能修改，除非签发人退回。", "提交签发").then(function (yes) {
        if (yes) act("submit", {}, "正在提交签发…");
      });
    });
  });

  function dialogValue(dlg, okId, required) {
    return new Promise(function (resolve) {
      var text = dlg.querySelector("textarea");
      var err = dlg.querySelector(".error-text");
      text.value = "";
      err.textContent = "";
      function close(v) { dlg.close(); ok.removeEventListener("click", onOk); cancel.removeEventListener("click", onCancel); resolve(v); }
      var ok = $(okId);
      var cancel = dlg.querySelector("[value=cancel]");
      function onOk() {
        var v = text.value.trim();
        if (required && v.length < 2) { err.textContent = "请填写退回意见（至少 2 个字），说明需要修改什么"; text.focus(); return; }
        close(v);
      }
      function onCancel() { close(null); }
      ok.addEventListener("click", onOk);
      cancel.addEventListener("click", onCancel);
      dlg.addEventListener("cancel", onCancel, { once: true });
      dlg.showModal();
      text.focus();
    });
  }

  $("btn-return").addEventListener("click", function () {
    dialogValue($("return-dialog"), "return-ok", true).then(function (comment) {
      if (comment !== null) act("return", { comment: comment }, "正在退回…");
    });
  });
  $("btn-approve").addEventListener("click", function () {
    dialogValue($("approve-dialog"), "approve-ok", false).then(function (comment) {
      if (comment === null) return;
      act("approve", comment ? { comment: comment } : {}, "正在签发…");
    });
  });

  var issueDialog = $("confirm-issue");
  $("btn-issue").addEventListener("click", function () {
    F.clearErrors();
    save().then(function (ok) {
      if (!ok) return;
      var data = F.collect();
      $("confirm-doc-title").textContent = data.title || "（按类型默认标题）";
      $("confirm-org").textContent = F.orgLabel();
      $("confirm-case").textContent = F.caseNo() || "不关联案件";
      $("confirm-title").textContent = "确认" + $("btn-issue").textContent;
      $("confirm-ok").textContent = "确认" + $("btn-issue").textContent;
      issueDialog.showModal();
    });
  });
  $("confirm-cancel").addEventListener("click", function () { issueDialog.close(); });
  $("confirm-ok").addEventListener("click", function () {
    issueDialog.close();
    act("issue", {}, "正在编号发文：" + (cfg.numbered === "true" ? "分配文号、" : "分配档号、") +
      "排版、转换 PDF/A、签章、归档…", { headers: { "Idempotency-Key": issueKey } }).then(function (ok) {
      if (ok) $("draft-issued").scrollIntoView({ behavior: "smooth", block: "center" });
    });
  });

  $("btn-withdraw").addEventListener("click", function () {
    W.confirm("撤回本草稿？撤回后不再办理，也不能再修改；草稿和办理记录保留。", "撤回", true).then(function (yes) {
      if (yes) act("withdraw", {}, "正在撤回…");
    });
  });

  /* ---- start, and come back --------------------------------------------------------------------- */

  render();
  if (id) load(true);
  window.addEventListener("pageshow", function (ev) {
    if (ev.persisted) load(false);
  });
})();

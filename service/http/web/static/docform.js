/* 新建文书: draws the form from the type's description (service/web/formspec.py), collects
 * what was typed into the type's JSON input, previews and issues it through the JSON API, and
 * shows the API's field errors (paths like "data.body.0.level") next to the inputs. */
(function () {
  "use strict";
  var W = window.Wenshu;
  var h = W.h;
  var form = document.getElementById("docform");
  if (!form) return;
  var spec = JSON.parse(document.getElementById("form-spec").textContent);
  var sample = JSON.parse(document.getElementById("form-sample").textContent);
  var initial = JSON.parse(document.getElementById("form-initial").textContent);
  var build = window.WenshuFields.build;

  /* ---- the whole form -------------------------------------------------------------------- */

  var top = [];
  var host = document.getElementById("docform-fields");
  spec.sections.forEach(function (section) {
    var fields = section.fields.map(function (f) {
      var ctl = build(f);
      top.push({ node: f, ctl: ctl });
      if (f.label === section.title) ctl.el.classList.add("same-as-section");
      return ctl.el;
    });
    var body = h("div", { class: "grid-2" }, fields);
    var el = section.folded
      ? h("details", { class: "card form-section" }, h("summary", {}, h("h2", { text: section.title })), body)
      : h("section", { class: "card form-section" }, h("h2", { text: section.title }), body);
    host.appendChild(el);
  });

  function collect() {
    var data = {};
    top.forEach(function (t) {
      var v = t.ctl.collect(t.node.name);
      if (v !== undefined) data[t.node.name] = v;
    });
    return data;
  }

  /* textareas grow with what is typed (up to a limit set in CSS) */
  function autosize(el) {
    el.style.height = "auto";
    el.style.height = el.scrollHeight + 2 + "px";
  }
  form.addEventListener("input", function (ev) {
    if (ev.target.tagName === "TEXTAREA") autosize(ev.target);
  });
  function resizeAll() {
    form.querySelectorAll("textarea").forEach(function (t) { if (t.value) autosize(t); });
  }

  function fill(data) {
    top.forEach(function (t) { t.ctl.set(data ? data[t.node.name] : undefined); });
    resizeAll();
  }
  function clearForm() {
    top.forEach(function (t) {
      if (t.ctl.reset) t.ctl.reset(); else t.ctl.set(undefined);
    });
  }
  if (initial) fill(initial);

  var orgSelect = document.getElementById("f-org");
  var caseSelect = document.getElementById("f-case");
  function body(withData) {
    var b = { type: form.dataset.type, org: orgSelect.value, data: withData };
    return b;
  }

  /* ---- errors ---------------------------------------------------------------------------- */

  var summary = document.getElementById("form-errors");
  function clearErrors() {
    form.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
    form.querySelectorAll(".error-text").forEach(function (el) { el.textContent = ""; });
    summary.hidden = true;
    summary.textContent = "";
  }
  function anchorFor(path) {
    var p = path.indexOf("data.") === 0 ? path.slice(5) : "@" + path;
    while (p) {
      var el = form.querySelector('[data-path="' + CSS.escape(p) + '"]');
      if (el) return el;
      var cut = p.lastIndexOf(".");
      if (cut < 0) break;
      p = p.slice(0, cut);
    }
    return null;
  }
  function labelOf(el) {
    var parts = [];
    for (var e = el; e && e !== form; e = e.parentElement) {
      if (e.classList.contains("item")) {
        var no = e.querySelector(".item-no");
        if (no) parts.unshift(no.textContent);
      } else if (e.dataset && e.dataset.label && e.dataset.path !== undefined) {
        parts.unshift(e.dataset.label);
      }
    }
    return parts.join(" › ");
  }
  function showErrors(message, errors) {
    clearErrors();
    var lines = [];
    var first = null;
    Object.keys(errors || {}).forEach(function (path) {
      var el = anchorFor(path);
      if (el) {
        el.classList.add("has-error");
        var slot = el.querySelector(":scope > .error-text") || el.querySelector(".error-text");
        if (slot) slot.textContent = (slot.textContent ? slot.textContent + "；" : "") + errors[path];
        if (!first) first = el;
        var details = el.closest("details");
        if (details) details.open = true;
        lines.push([labelOf(el), errors[path]]);
      } else {
        lines.push([path, errors[path]]);
      }
    });
    summary.appendChild(h("strong", { text: message || "输入有误，请按提示修改" }));
    if (lines.length) {
      summary.appendChild(h("ul", {}, lines.map(function (l) {
        return h("li", {}, l[0] ? h("b", { text: l[0] + "：" }) : null, document.createTextNode(l[1]));
      })));
    }
    summary.hidden = false;
    (first || summary).scrollIntoView({ behavior: "smooth", block: "center" });
    var focusable = first && first.querySelector("input, textarea, select");
    if (focusable) focusable.focus({ preventScroll: true });
  }

  /* ---- drafts kept in this browser ------------------------------------------------------- */

  var draftKey = "wenshu-draft:" + form.dataset.user + ":" + form.dataset.type;
  var draftTimer = null;
  function saveDraft() {
    clearTimeout(draftTimer);
    draftTimer = setTimeout(function () {
      try {
        localStorage.setItem(draftKey, JSON.stringify({ at: new Date().toISOString(), data: collect() }));
      } catch (e) { /* storage full or disabled: drafts are a convenience */ }
    }, 800);
  }
  var banner = document.getElementById("draft-banner");
  var saved = null;
  try { saved = JSON.parse(localStorage.getItem(draftKey) || "null"); } catch (e) { saved = null; }
  if (saved && !initial && saved.data && Object.keys(saved.data).length) {
    document.getElementById("draft-time").textContent = new Date(saved.at).toLocaleString("zh-CN");
    banner.hidden = false;
  }
  document.getElementById("draft-restore").addEventListener("click", function () {
    fill(saved.data);
    banner.hidden = true;
  });
  document.getElementById("draft-discard").addEventListener("click", function () {
    localStorage.removeItem(draftKey);
    banner.hidden = true;
  });
  form.addEventListener("input", saveDraft);
  form.addEventListener("change", saveDraft);

  /* ---- actions --------------------------------------------------------------------------- */

  document.getElementById("btn-sample").addEventListener("click", function () {
    clearErrors();
    fill(sample);
  });
  document.getElementById("btn-clear").addEventListener("click", function () {
    W.confirm("清空表单中已填写的全部内容？", "清空").then(function (ok) {
      if (ok) { clearErrors(); clearForm(); }
    });
  });

  function failed(resp, payload) {
    if (resp.status === 422 || resp.status === 400) {
      showErrors(payload.message, payload.errors);
    } else if (resp.status === 401) {
      showErrors("登录已过期，请重新登录后再试（已填内容保存在本机草稿中）。", {});
    } else {
      showErrors(payload.message || "出错了（" + resp.status + "）", payload.errors);
    }
  }

  var frame = document.getElementById("preview-frame");
  var previewUrl = null;
  document.getElementById("btn-preview").addEventListener("click", function () {
    clearErrors();
    var done = W.busy("正在生成预览：排版并转换为 PDF…");
    W.api("/api/v1/documents/preview", body(collect())).then(function (resp) {
      if (!resp.ok) return resp.json().then(function (p) { failed(resp, p); });
      return resp.blob().then(function (blob) {
        if (previewUrl) URL.revokeObjectURL(previewUrl);
        previewUrl = URL.createObjectURL(blob);
        frame.hidden = false;  // visible before loading, so the viewer fits the page to it
        document.getElementById("preview-empty").hidden = true;
        frame.src = previewUrl + "#navpanes=0&view=FitH";
        var open = document.getElementById("preview-open");
        open.href = previewUrl;
        open.hidden = false;
        document.getElementById("preview-note").textContent =
          "草稿，生成于 " + new Date().toLocaleTimeString("zh-CN");
        document.getElementById("preview-card").scrollIntoView({ behavior: "smooth", block: "start" });
      });
    }).catch(function () {
      showErrors("无法连接服务器，请检查网络后重试。", {});
    }).finally(done);
  });

  var dialog = document.getElementById("confirm-issue");
  document.getElementById("btn-issue").addEventListener("click", function () {
    clearErrors();
    var data = collect();
    document.getElementById("confirm-doc-title").textContent = data.title || "（按类型默认标题）";
    document.getElementById("confirm-org").textContent = orgSelect.options[orgSelect.selectedIndex].text;
    document.getElementById("confirm-case").textContent = caseSelect.value || "不关联案件";
    dialog.showModal();
  });
  document.getElementById("confirm-cancel").addEventListener("click", function () { dialog.close(); });
  document.getElementById("confirm-ok").addEventListener("click", function () {
    dialog.close();
    var b = body(collect());
    if (caseSelect.value) b.case_no = caseSelect.value;
    if (form.dataset.supersedes) b.supersedes = form.dataset.supersedes;
    var done = W.busy("正在签发：" + (form.dataset.numbered === "true" ? "分配文号、" : "") +
      "排版、转换 PDF/A、签章、归档…");
    W.api("/api/v1/documents", b).then(function (resp) {
      return resp.json().then(function (p) {
        if (resp.status !== 201) { done(); return failed(resp, p); }
        localStorage.removeItem(draftKey);
        window.location.assign("/documents/" + encodeURIComponent(p.id) + "?issued=1");
      });
    }).catch(function () {
      done();
      showErrors("无法连接服务器，请检查网络后重试。", {});
    });
  });
})();

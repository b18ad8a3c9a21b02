/* The document form: draws it from the type's description (service/http/web/formspec.py),
 * collects what was typed into the type's JSON input, previews it through the JSON API, and
 * shows the API's field errors (paths like "data.body.0.level") next to the inputs. Saving,
 * submitting and issuing — the draft's life on the server — are draft.js. Nothing typed is
 * kept in the browser's storage. */
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

  /* ---- actions --------------------------------------------------------------------------- */

  function changed() { form.dispatchEvent(new Event("change", { bubbles: true })); }
  document.getElementById("btn-sample").addEventListener("click", function () {
    clearErrors();
    fill(sample);
    changed();
  });
  document.getElementById("btn-clear").addEventListener("click", function () {
    W.confirm("清空表单中已填写的全部内容？", "清空").then(function (ok) {
      if (ok) { clearErrors(); clearForm(); changed(); }
    });
  });

  function failed(resp, payload) {
    if (resp.status === 422 || resp.status === 400) {
      showErrors(payload.message, payload.errors);
    } else if (resp.status === 401) {
      showErrors("登录已过期，请重新登录后再试（已保存的内容在服务器上的草稿中）。", {});
    } else {
      showErrors(payload.message || "出错了（" + resp.status + "）", payload.errors);
    }
  }

  var frame = document.getElementById("preview-frame");
  var previewUrl = null;
  var previewButton = document.getElementById("btn-preview");  // the issuers' (the API's rule)
  if (previewButton) previewButton.addEventListener("click", function () {
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

  /* what draft.js (the draft's life on the server) works with */
  window.WenshuDocForm = {
    form: form,
    spec: spec,
    collect: collect,
    fill: fill,
    showErrors: showErrors,
    clearErrors: clearErrors,
    failed: failed,
    org: function () { return orgSelect.value; },
    orgLabel: function () { return orgSelect.options[orgSelect.selectedIndex].text; },
    caseNo: function () { return caseSelect.value; },
    setCase: function (v) { caseSelect.value = v || ""; },
    setOrg: function (v) { if (v) orgSelect.value = v; },
  };
})();

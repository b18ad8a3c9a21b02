/* The document page: ask GET /api/v1/documents/<id>/verify and show hash and signature status. */
(function () {
  "use strict";
  var W = window.Wenshu;
  // "?issued=1" shows the issue banner once: a reload or a bookmark shows the plain page
  if (/[?&]issued=1/.test(location.search)) {
    history.replaceState(null, "", location.pathname + location.hash);
  }
  var box = document.getElementById("verify");
  if (!box) return;
  var status = document.getElementById("verify-status");
  var facts = document.getElementById("verify-facts");
  function row(label, ok, text) {
    facts.appendChild(W.h("dt", { text: label }));
    facts.appendChild(W.h("dd", {}, W.h("span", { class: "badge " + (ok ? "badge-ok" : "badge-bad"), text: text })));
  }
  W.api(box.dataset.url).then(function (resp) {
    return resp.json().then(function (r) {
      if (!resp.ok) throw new Error(r.message || resp.status);
      var sig = r.signature || {};
      var ok = r.sha256_ok && sig.intact && sig.valid && sig.trusted && sig.covers_whole_file !== false;
      status.className = "verify-status " + (ok ? "ok" : "bad");
      status.textContent = ok ? "✔ 验证通过：文件未被改动，签章有效" : "✘ 验证未通过：" + (r.problems || []).join("；");
      row("文件哈希", r.sha256_ok, r.sha256_ok ? "与归档记录一致" : "不一致");
      row("签章完整", sig.intact, sig.intact ? "完整" : "被改动");
      row("签名有效", sig.valid, sig.valid ? "有效" : "无效");
      // "trusted" means: the certificate this system has on record for the org. An outside
      // verifier (pdfsig, a PDF reader) knows nothing of it and says "issuer unknown".
      row("证书", sig.trusted, sig.trusted ? "本系统登记的本机构证书" : "非本系统登记的证书");
      facts.lastChild.appendChild(W.h("div", { class: "muted small", text: "此处“可信”指本系统信任：外部软件验证时，须先信任本机构的根证书，否则显示“签发者未知”。" }));
      if (sig.signer) { facts.appendChild(W.h("dt", { text: "签章人" })); facts.appendChild(W.h("dd", { text: sig.signer })); }
      if (sig.signed_at) {
        facts.appendChild(W.h("dt", { text: "签章时间" }));
        facts.appendChild(W.h("dd", { text: W.localTime(sig.signed_at) }));
      }
      facts.hidden = false;
    });
  }).catch(function (e) {
    status.className = "verify-status bad";
    status.textContent = "无法完成验证：" + e.message;
  });
})();

/* The document page's 签字原件 card: upload the scan with a real progress bar (XMLHttpRequest
 * reports bytes sent), then reload; while the scan is being recognised, ask its status every
 * few seconds, show the pages read so far, and reload once recognition is done. 重新识别 queues
 * the stored scan again; the review form records a confirmation of the page-by-page check. */
(function () {
  "use strict";
  var W = window.Wenshu;
  var card = document.getElementById("signed-copy");
  if (!card) return;
  var form = document.getElementById("signed-copy-form");
  var input = document.getElementById("signed-copy-file");
  var bar = document.getElementById("signed-copy-progress");
  var message = document.getElementById("signed-copy-message");
  var submit = document.getElementById("signed-copy-submit");

  function say(text, bad) {
    message.textContent = text;
    message.className = "small " + (bad ? "verify-status bad" : "muted");
  }

  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!input.files.length) { say("请选择文件", true); return; }
      var data = new FormData();
      for (var i = 0; i < input.files.length; i++) data.append("file", input.files[i]);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", card.dataset.uploadUrl);
      xhr.setRequestHeader("X-CSRF-Token", W.csrf());
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false;
      bar.value = 0;
      submit.disabled = true;
      say("正在上传…");
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        bar.value = Math.round((e.loaded / e.total) * 100);
        say("正在上传… " + bar.value + "%");
        if (e.loaded === e.total) say("上传完成，正在检查文件…");
      });
      xhr.addEventListener("load", function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
        if (xhr.status === 201) {
          say("已归档签字原件，正在识别文字…");
          window.location.reload();
          return;
        }
        submit.disabled = false;
        bar.hidden = true;
        var detail = body.errors && body.errors.file ? body.errors.file : body.message;
        say("上传未成功：" + (detail || xhr.status), true);
      });
      xhr.addEventListener("error", function () {
        submit.disabled = false;
        bar.hidden = true;
        say("上传中断，请检查网络后重试", true);
      });
      xhr.send(data);
    });
  }

  var again = document.getElementById("signed-copy-again");
  if (again) {
    again.addEventListener("click", function () {
      again.disabled = true;
      W.api(again.dataset.url, {}).then(function (resp) {
        if (resp.status === 202) { window.location.reload(); return; }
        return resp.json().then(function (body) {
          again.disabled = false;
          window.alert("未能重新识别：" + (body.message || resp.status));
        });
      }).catch(function () { again.disabled = false; });
    });
  }

  var review = document.getElementById("scan-review-form");
  if (review) {
    var kind = document.getElementById("scan-review-kind");
    var pageField = document.getElementById("scan-review-page");
    var note = document.getElementById("scan-review-message");
    review.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = { kind: kind.value, reason: document.getElementById("scan-review-reason").value };
      if (kind.value === "signature" && pageField) body.page = parseInt(pageField.value, 10);
      W.api(review.dataset.url, body).then(function (resp) {
        if (resp.ok) { window.location.reload(); return; }
        return resp.json().then(function (b) {
          var errs = b.errors || {};
          note.textContent = "未能确认：" + ((errs.reason || errs.page || [])[0] || b.message || resp.status);
          note.className = "small verify-status bad";
        });
      });
    });
  }

  if (card.dataset.ocrPending === "true") {
    var progress = document.getElementById("signed-copy-ocr-progress");
    var pagesRead = document.getElementById("signed-copy-ocr-pages");
    var timer = window.setInterval(function () {
      W.api(card.dataset.statusUrl).then(function (resp) { return resp.json(); }).then(function (sc) {
        if (!sc || !sc.ocr) return;
        var p = sc.ocr.progress;
        if (p && progress) {
          progress.max = p.pages;
          progress.value = p.pages_done;
          if (pagesRead) pagesRead.textContent = "已识别 " + p.pages_done + " / " + p.pages + " 页";
        }
        if (!p && sc.ocr.status !== "正在识别") {
          window.clearInterval(timer);
          window.location.reload();
        }
      }).catch(function () { /* keep asking */ });
    }, 5000);
  }
})();

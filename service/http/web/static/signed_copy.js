/* The document page's 签字原件 card: upload the scan with a real progress bar (XMLHttpRequest
 * reports bytes sent), then reload; while the scan is being recognised, ask its status every
 * few seconds and reload once recognition is done. */
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

  if (card.dataset.ocrPending === "true") {
    var timer = window.setInterval(function () {
      W.api(card.dataset.statusUrl).then(function (resp) { return resp.json(); }).then(function (sc) {
        if (sc && sc.ocr && sc.ocr.status !== "正在识别") {
          window.clearInterval(timer);
          window.location.reload();
        }
      }).catch(function () { /* keep asking */ });
    }, 5000);
  }
})();

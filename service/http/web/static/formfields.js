/* The inputs of a document form, built from one node of the type's description
 * (service/web/formspec.py). build(node) returns a controller:
 *   el             the element to place on the page;
 *   collect(path)  the value typed (undefined when nothing was), marking the elements with
 *                  data-path so the API's field errors ("body.0.level") find their input;
 *   set(value)     fill it; reset() (lists) back to the starting rows.
 * Every control has autocomplete="off": the browser must never refill a form it drew by
 * position (after Back it would put one field's text into another); the server's draft does. */
(function () {
  "use strict";
  var h = window.Wenshu.h;
  var seq = 0;

  function isEmpty(v) {
    return v === undefined;
  }

  /* ---- one field: returns a controller {el, collect(path), set(value)} ------------------- */

  function fieldShell(node, control, id) {
    var label = h("label", { for: id }, h("span", { class: "label", text: node.label }));
    if (node.required) label.appendChild(h("span", { class: "req", text: "*", title: "必填" }));
    var el = h("div", { class: "field" + (node.wide ? " field-wide" : "") }, label, control);
    if (node.hint) el.appendChild(h("span", { class: "hint", text: node.hint }));
    el.appendChild(h("span", { class: "error-text" }));
    el.dataset.label = node.label;
    if (node.name) el.dataset.field = node.name;
    return el;
  }

  function textField(node) {
    var id = "f" + ++seq;
    var input;
    if (node.input === "textarea") {
      input = h("textarea", { id: id, rows: node.max_length > 5000 ? 3 : 2, autocomplete: "off" });
    } else {
      input = h("input", { id: id, type: node.input || "text", autocomplete: "off" });
      if (node.step !== undefined) input.step = node.step;
      if (node.min !== undefined && node.min !== null) input.min = node.min;
      if (node.max !== undefined && node.max !== null) input.max = node.max;
      if (node.mono) input.className = "mono";
    }
    if (node.max_length) input.maxLength = node.max_length;
    var el = fieldShell(node, input, id);
    return {
      el: el,
      collect: function (path) {
        el.dataset.path = path;
        var v = input.value;
        if (!v.trim()) return undefined;
        if (node.value === "integer" && /^\s*-?\d+\s*$/.test(v)) return parseInt(v, 10);
        return v;
      },
      set: function (v) {
        input.value = v === undefined || v === null ? "" : String(v);
        if (node.input === "datetime-local" && input.value.length > 19) {
          input.value = input.value.slice(0, 19);
        }
      },
    };
  }

  function choiceField(node) {
    var id = "f" + ++seq;
    var select = h("select", { id: id, autocomplete: "off" }, h("option", { value: "", text: node.required ? "请选择" : "（不填）" }));
    node.choices.forEach(function (c) {
      select.appendChild(h("option", { value: String(c[0]), text: c[1] }));
    });
    var el = fieldShell(node, select, id);
    return {
      el: el,
      collect: function (path) {
        el.dataset.path = path;
        if (!select.value) return undefined;
        var hit = node.choices.find(function (c) { return String(c[0]) === select.value; });
        return hit ? hit[0] : select.value;
      },
      set: function (v) { select.value = v === undefined || v === null ? "" : String(v); },
    };
  }

  function multiField(node) {
    var boxes = node.choices.map(function (c) {
      var input = h("input", { type: "checkbox", value: c[0], autocomplete: "off" });
      return { input: input, label: h("label", { class: "check" }, input, h("span", { text: c[1] })) };
    });
    var el = h("fieldset", { class: "field checks" },
      h("legend", {}, h("span", { class: "label", text: node.label }), node.required ? h("span", { class: "req", text: "*" }) : null),
      h("div", { class: "check-list" }, boxes.map(function (b) { return b.label; })),
      node.hint ? h("span", { class: "hint", text: node.hint }) : null,
      h("span", { class: "error-text" }));
    el.dataset.label = node.label;
    if (node.name) el.dataset.field = node.name;
    return {
      el: el,
      collect: function (path) {
        el.dataset.path = path;
        var v = boxes.filter(function (b) { return b.input.checked; }).map(function (b) { return b.input.value; });
        return v.length ? v : undefined;
      },
      set: function (v) {
        var chosen = v || [];
        boxes.forEach(function (b) { b.input.checked = chosen.indexOf(b.input.value) >= 0; });
      },
    };
  }

  function objectField(node, bare) {
    var children = node.fields.map(function (f) { return { node: f, ctl: build(f) }; });
    var body = h("div", { class: "grid-2" }, children.map(function (c) { return c.ctl.el; }));
    var el = bare ? h("div", { class: "object" }, body)
      : h("fieldset", { class: "group" }, h("legend", { text: node.label }), body,
        node.hint ? h("span", { class: "hint", text: node.hint }) : null, h("span", { class: "error-text" }));
    el.dataset.label = node.label;
    if (node.name) el.dataset.field = node.name;
    return {
      el: el,
      collect: function (path) {
        el.dataset.path = path;
        var out = {};
        var any = false;
        children.forEach(function (c) {
          var v = c.ctl.collect(path + "." + c.node.name);
          if (!isEmpty(v)) { out[c.node.name] = v; any = true; }
        });
        return any ? out : undefined;
      },
      set: function (v) {
        children.forEach(function (c) { c.ctl.set(v ? v[c.node.name] : undefined); });
      },
    };
  }

  var BLOCK_KINDS = [["p", "正文段落"]];

  function blockField(node) {
    var kinds = BLOCK_KINDS.concat(node.levels.map(function (l) { return [String(l[0]), l[1]]; }));
    var id = "f" + ++seq;
    var kind = h("select", { id: id, class: "block-kind", "aria-label": "段落类型", autocomplete: "off" },
      kinds.map(function (k) { return h("option", { value: k[0], text: k[1] }); }));
    var heading = h("input", { type: "text", placeholder: "标题文字（序号自动生成）", "aria-label": "标题", autocomplete: "off" });
    var text = h("textarea", { rows: 3, "aria-label": "内容", placeholder: "正文", autocomplete: "off" });
    text.dataset.rows = "3";
    var kindWrap = h("div", { class: "field field-kind" }, kind, h("span", { class: "error-text" }));
    var headWrap = h("div", { class: "field field-heading" }, heading, h("span", { class: "error-text" }));
    var textWrap = h("div", { class: "field field-wide" }, text, h("span", { class: "error-text" }));
    kindWrap.dataset.label = "层级";
    headWrap.dataset.label = "标题";
    textWrap.dataset.label = "内容";
    var el = h("div", { class: "block" }, h("div", { class: "block-top" }, kindWrap, headWrap), textWrap);
    function sync() {
      var isHeading = kind.value !== "p";
      headWrap.hidden = !isHeading;
      text.placeholder = isHeading ? "可选：接在标题后的正文（同一段）" : "正文（可含多段，换行分段）";
      text.rows = isHeading ? 1 : 3;
    }
    kind.addEventListener("change", sync);
    sync();
    return {
      el: el,
      collect: function (path) {
        el.dataset.path = path;
        kindWrap.dataset.path = path + ".level";
        headWrap.dataset.path = path + ".heading";
        textWrap.dataset.path = path + ".text";
        var t = text.value.trim() ? text.value : undefined;
        if (kind.value === "p") return t === undefined ? undefined : { text: t };
        var hd = heading.value.trim() ? heading.value : undefined;
        if (hd === undefined && t === undefined) return undefined;
        var out = { heading: hd === undefined ? "" : hd, level: parseInt(kind.value, 10) };
        if (t !== undefined) out.text = t;
        return out;
      },
      set: function (v) {
        v = v || {};
        kind.value = v.heading !== undefined ? String(v.level || 1) : "p";
        heading.value = v.heading || "";
        text.value = v.text || "";
        sync();
      },
    };
  }

  function listField(node) {
    var items = [];
    var list = h("ol", { class: "items" });
    var simple = node.item.kind === "text";  // one input per item: a compact numbered row
    var addBtn = h("button", { type: "button", class: "btn btn-small btn-secondary add", text: "＋ 添加" + node.item_add });
    var head = h("div", { class: "list-head" }, h("span", { class: "label", text: node.label }));
    if (node.required || node.min) head.appendChild(h("span", { class: "req", text: "*" }));
    if (node.hint) head.appendChild(h("span", { class: "hint", text: node.hint }));
    var el = h("div", { class: "field list" + (simple ? " list-simple" : "") }, head, list,
      h("span", { class: "error-text" }), addBtn);
    el.dataset.label = node.label;
    if (node.name) el.dataset.field = node.name;

    function renumber() {
      items.forEach(function (it, i) {
        it.no.textContent = simple ? i + 1 + "." : node.item_counter.replace("{n}", String(i + 1));
        it.up.disabled = i === 0;
        it.down.disabled = i === items.length - 1;
      });
    }
    function add(value, focus) {
      var child = build(Object.assign({}, node.item, { label: node.label, hint: "", required: false }), true);
      var it = {
        ctl: child,
        no: h("span", { class: "item-no" }),
        up: h("button", { type: "button", class: "icon", title: "上移", "aria-label": "上移", text: "↑" }),
        down: h("button", { type: "button", class: "icon", title: "下移", "aria-label": "下移", text: "↓" }),
        del: h("button", { type: "button", class: "icon danger", title: "删除", "aria-label": "删除", text: "✕" }),
      };
      // the input comes first in Tab order, then ↑ ↓ ✕ (drawn at the top right by the stylesheet)
      it.li = h("li", { class: "item" }, h("div", { class: "item-bar" }, it.no), child.el,
        h("span", { class: "item-tools" }, it.up, it.down, it.del));
      it.up.addEventListener("click", function () { move(it, -1); });
      it.down.addEventListener("click", function () { move(it, 1); });
      it.del.addEventListener("click", function () { remove(it); });
      items.push(it);
      list.appendChild(it.li);
      if (value !== undefined) child.set(value);
      renumber();
      if (focus) {
        var first = it.li.querySelector("input, textarea, select");
        if (first) first.focus();
      }
    }
    function move(it, by) {
      var i = items.indexOf(it);
      var j = i + by;
      if (j < 0 || j >= items.length) return;
      items.splice(i, 1);
      items.splice(j, 0, it);
      if (by < 0) list.insertBefore(it.li, items[j + 1].li);
      else list.insertBefore(it.li, items[j - 1].li.nextSibling);
      renumber();
      el.dispatchEvent(new Event("input", { bubbles: true }));  // the order is saved too
    }
    /* ✕ takes the item out at once and leaves 撤销 in its place for a while: a slip of the
     * finger costs nothing. */
    function remove(it) {
      var at = items.indexOf(it);
      var name = it.no.textContent.replace(/\.$/, "");
      items.splice(at, 1);
      var undo = h("button", { type: "button", class: "btn btn-small btn-secondary", text: "撤销" });
      var note = h("li", { class: "item-removed", role: "status" },
        h("span", { text: "已删除" + (simple ? "第 " + name + " 项" : name) + "。" }), undo);
      list.replaceChild(note, it.li);
      renumber();
      el.dispatchEvent(new Event("input", { bubbles: true }));  // the draft is saved again
      var timer = setTimeout(function () { note.remove(); }, 15000);
      undo.addEventListener("click", function () {
        clearTimeout(timer);
        items.splice(Math.min(at, items.length), 0, it);
        list.replaceChild(it.li, note);
        renumber();
        el.dispatchEvent(new Event("input", { bubbles: true }));
        var first = it.li.querySelector("input, textarea, select");
        if (first) first.focus();
      });
      undo.focus();
    }
    function reset(n) {
      list.querySelectorAll(".item-removed").forEach(function (x) { x.remove(); });
      items.slice().forEach(function (it) { it.li.remove(); });
      items = [];
      for (var i = 0; i < n; i++) add(undefined, false);
    }
    addBtn.addEventListener("click", function () { add(undefined, true); });
    var start = node.required || node.min ? Math.max(node.min || 0, 1) : 0;
    reset(start);
    return {
      el: el,
      collect: function (path) {
        el.dataset.path = path;
        var out = [];
        items.forEach(function (it) {
          it.li.removeAttribute("data-path");
          var v = it.ctl.collect(path + "." + out.length);
          if (!isEmpty(v)) out.push(v);
        });
        // an empty required list is sent as [] so the schema says how many are needed
        return out.length ? out : node.required ? [] : undefined;
      },
      set: function (v) {
        reset(0);
        (v || []).forEach(function (x) { add(x, false); });
        if (!items.length && start) reset(start);
      },
      reset: function () { reset(start); },
    };
  }

  function build(node, bare) {
    switch (node.kind) {
      case "object": return objectField(node, bare);
      case "list": return listField(node);
      case "block": return blockField(node);
      case "choice": return choiceField(node);
      case "multi": return multiField(node);
      default: return textField(node);
    }
  }

  window.WenshuFields = { build: build };
})();

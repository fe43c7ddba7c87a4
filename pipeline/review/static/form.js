// The label form, generated from the task's JSON Schema (the Pydantic model's): every field, lists
// with add/remove, enums as selects, nullable fields empty when null, text fields dir="auto".
// Each field's element carries data-path (the Pydantic error location, dotted) for errors.
(function () {
  function deref(s, root) {
    let guard = 0;
    while (s && (s.$ref || (s.allOf && s.allOf.length === 1)) && guard++ < 50) {
      const extra = Object.assign({}, s); delete extra.$ref; delete extra.allOf;
      const target = s.$ref ? root.$defs[s.$ref.split("/").pop()] : s.allOf[0];
      s = Object.assign({}, target, extra);
    }
    return s || {};
  }
  function unwrap(s0, root) {
    let s = deref(s0, root), nullable = false;
    if (s.anyOf) {
      const non = s.anyOf.filter(x => x.type !== "null");
      nullable = non.length < s.anyOf.length;
      if (non.length !== 1) return { s, nullable, complex: true };
      s = Object.assign({}, deref(non[0], root), { title: s.title, description: s.description });
    }
    if (Array.isArray(s.type)) {
      nullable = nullable || s.type.includes("null");
      s = Object.assign({}, s, { type: s.type.filter(t => t !== "null")[0] });
    }
    if (s.enum && !s.type) s.type = "string";
    return { s, nullable, complex: false };
  }
  function initial(s0, root) {
    const { s, nullable } = unwrap(s0, root);
    if (nullable) return null;
    if (s.default !== undefined) return JSON.parse(JSON.stringify(s.default));
    if (s.enum) return s.enum[0];
    switch (s.type) {
      case "object": {
        const o = {};
        for (const [k, p] of Object.entries(s.properties || {})) if ((s.required || []).includes(k)) o[k] = initial(p, root);
        return o;
      }
      case "array": return [];
      case "integer": case "number": return 0;
      case "boolean": return false;
      default: return "";
    }
  }
  function get(obj, path) { return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj); }
  function set(obj, path, value) {
    const keys = path.split("."), last = keys.pop();
    let o = obj;
    for (const k of keys) { if (o[k] == null) o[k] = {}; o = o[k]; }
    o[last] = value;
  }

  function LabelForm(container, schema, label, options) {
    this.container = container; this.schema = schema; this.label = label;
    this.skip = options.skip || []; this.onChange = options.onChange || function () {};
    this.render();
  }
  LabelForm.prototype.render = function () {
    this.container.textContent = "";
    const root = unwrap(this.schema, this.schema).s;
    for (const [key, p] of Object.entries(root.properties || {})) {
      if (this.skip.includes(key)) continue;
      this.container.appendChild(this.field(key, key, p, get(this.label, key)));
    }
  };
  LabelForm.prototype.changed = function (path, value) { set(this.label, path, value); this.onChange(path); };
  LabelForm.prototype.field = function (path, name, s0, value) {
    const { s, nullable, complex } = unwrap(s0, this.schema), self = this;
    const wrap = document.createElement("div");
    wrap.className = "field"; wrap.dataset.path = path;
    const title = document.createElement("label");
    title.textContent = s.title || name; if (s.description) title.title = s.description;
    if (complex || (s.type === "object" && !s.properties)) {
      wrap.appendChild(title);
      const area = document.createElement("textarea"); area.dir = "auto";
      area.value = JSON.stringify(value === undefined ? null : value, null, 1);
      area.addEventListener("input", () => { try { self.changed(path, JSON.parse(area.value)); } catch (e) { /* typing */ } });
      wrap.appendChild(area); return wrap;
    }
    if (s.type === "object") {
      const box = document.createElement("fieldset"), legend = document.createElement("legend");
      legend.textContent = s.title || name; box.appendChild(legend); box.className = "field"; box.dataset.path = path;
      if (value == null && !nullable) { value = initial(s, this.schema); set(this.label, path, value); }
      for (const [key, p] of Object.entries(s.properties)) box.appendChild(this.field(path + "." + key, key, p, value ? value[key] : undefined));
      return box;
    }
    if (s.type === "array") {
      const box = document.createElement("fieldset"), legend = document.createElement("legend");
      legend.textContent = (s.title || name) + " (" + ((value || []).length) + ")"; box.appendChild(legend);
      box.className = "field list"; box.dataset.path = path;
      const items = Array.isArray(value) ? value : [];
      if (!Array.isArray(value)) set(this.label, path, items);
      items.forEach((v, i) => {
        const row = document.createElement("div"); row.className = "item";
        row.appendChild(this.field(path + "." + i, name + " " + (i + 1), s.items || {}, v));
        const remove = document.createElement("button");
        remove.type = "button"; remove.className = "small remove"; remove.textContent = "remove"; remove.title = "remove this item";
        remove.addEventListener("click", () => { items.splice(i, 1); self.changed(path, items); self.render(); });
        row.appendChild(remove); box.appendChild(row);
      });
      const add = document.createElement("button");
      add.type = "button"; add.className = "small add"; add.textContent = "+ add"; add.title = "add an item";
      add.addEventListener("click", () => { items.push(initial(s.items || {}, self.schema)); self.changed(path, items); self.render(); });
      box.appendChild(add);
      return box;
    }
    wrap.appendChild(title);
    let input;
    if (s.enum) {
      input = document.createElement("select");
      const options = (nullable ? [null] : []).concat(s.enum);
      for (const option of options) {
        const o = document.createElement("option");
        o.value = option === null ? "" : String(option); o.textContent = option === null ? "(none)" : String(option);
        input.appendChild(o);
      }
      input.value = value == null ? "" : String(value);
      input.addEventListener("change", () => self.changed(path, input.value === "" && nullable ? null : input.value));
    } else if (s.type === "boolean") {
      input = document.createElement("input"); input.type = "checkbox"; input.checked = !!value;
      input.addEventListener("change", () => self.changed(path, input.checked));
    } else if (s.type === "integer" || s.type === "number") {
      input = document.createElement("input"); input.type = "number"; input.step = "any";
      input.value = value == null ? "" : String(value);
      input.addEventListener("input", () => self.changed(path, input.value === "" ? (nullable ? null : input.value) : Number(input.value)));
    } else {
      const long = (typeof value === "string" && value.length > 60) || /text|markdown|description|address/.test(name);
      input = document.createElement(long ? "textarea" : "input");
      if (!long) input.type = "text";
      input.dir = "auto"; input.value = value == null ? "" : String(value);
      input.addEventListener("input", () => self.changed(path, input.value === "" && nullable ? null : input.value));
    }
    input.setAttribute("aria-label", path);
    wrap.appendChild(input);
    return wrap;
  };
  LabelForm.prototype.showErrors = function (errors, extraRoots) {
    const roots = [this.container].concat(extraRoots || []);
    for (const r of roots) {
      r.querySelectorAll(".error").forEach(e => e.remove());
      r.querySelectorAll(".invalid").forEach(e => e.classList.remove("invalid"));
    }
    const unplaced = [];
    for (const error of errors) {
      let loc = error.loc, target = null;
      while (!target) {
        for (const r of roots) { target = target || r.querySelector(`[data-path="${CSS.escape(loc)}"]`); }
        if (target || !loc) break;
        loc = loc.includes(".") ? loc.slice(0, loc.lastIndexOf(".")) : "";
      }
      if (!target) { unplaced.push(error); continue; }
      target.classList.add("invalid");
      const msg = document.createElement("div"); msg.className = "error"; msg.textContent = error.msg;
      if (loc !== error.loc) msg.textContent = error.loc.slice(loc.length).replace(/^\./, "") + ": " + error.msg;
      target.appendChild(msg);
    }
    return unplaced;
  };
  window.LabelForm = LabelForm;
})();

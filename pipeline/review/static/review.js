// The review page: load an item, show it, validate as you type, store verdicts, keyboard shortcuts.
(function () {
  const token = document.body.dataset.token;
  const $ = id => document.getElementById(id);
  let item = null, form = null, timer = null, busy = false, loads = 0;
  const view = { scale: 1, x: 0, y: 0 };

  async function api(path, body) {
    const options = { headers: { "X-Review-Token": token } };
    if (body !== undefined) {
      options.method = "POST"; options.body = JSON.stringify(body);
      options.headers["Content-Type"] = "application/json";
    }
    const response = await fetch(path, options);
    let data = {};
    try { data = await response.json(); } catch (e) { data = { error: "HTTP " + response.status }; }
    return { status: response.status, data };
  }
  function status(text, kind) { const s = $("status"); s.textContent = text; s.className = kind || ""; }

  function showProgress(progress) {
    const box = $("progress"); box.textContent = "";
    for (const q of progress) {
      const span = document.createElement("span");
      span.className = "queue" + (item && item.queue === q.queue ? " current" : "");
      span.dataset.queue = q.queue;
      span.textContent = `${q.title} ${q.done}/${q.total}`;
      const bar = document.createElement("progress"); bar.max = Math.max(q.total, 1); bar.value = q.done;
      span.appendChild(bar);
      span.addEventListener("click", () => load({ queue: q.queue, after: -1 }));
      box.appendChild(span);
    }
  }

  async function load(params) {
    const ticket = ++loads;      // only the newest navigation is shown (an older answer may arrive later)
    const { status: code, data } = await api("api/item?" + new URLSearchParams(params));
    if (ticket !== loads) return;
    if (code !== 200) { status(data.error || "cannot load", "error"); return; }
    if (!data.item) {
      if (params.before !== undefined) { status("this is the first item of the queue"); return; }
      item = null; showProgress(data.progress || []);
      $("itemhead").textContent = ""; $("labelform").textContent = ""; $("page").removeAttribute("src");
      status("nothing left to review in the queues after this one: all done", "ok");
      document.body.dataset.state = "done";
      return;
    }
    show(data.item);
  }

  function show(next) {
    item = next; document.body.dataset.state = "item";
    document.body.dataset.queue = item.queue; document.body.dataset.position = item.position;
    location.hash = `${item.queue}/${item.position}`;
    showProgress(item.progress);
    const head = $("itemhead"); head.textContent = "";
    const parts = [["queue", item.queue_title], ["why", item.why], ["document", item.document],
      ["page", String(item.page_no)], ["task", item.task], ["label from", item.source || "nothing: fill it in"]];
    if (item.verdict) parts.push(["last verdict", `${item.verdict.verdict} by ${item.verdict.reviewer}` +
      (item.verdict.reason ? ` (${item.verdict.reason})` : "")]);
    for (const [k, v] of parts) {
      const b = document.createElement("b"); b.textContent = v;
      head.append(k + ": ", b, "  ");
    }
    $("notes").textContent = (item.notes || []).join("; ");
    $("page").src = item.image; $("page").onload = fit;
    const label = item.label ? JSON.parse(JSON.stringify(item.label)) : {};
    const props = (item.schema && item.schema.properties) || {};
    const hasMarkdown = props.markdown !== undefined;
    $("mdpane").hidden = !hasMarkdown;
    form = new window.LabelForm($("labelform"), item.schema || { properties: {} }, label,
      { skip: hasMarkdown ? ["markdown"] : [], onChange: changed });
    if (hasMarkdown) {
      if (typeof label.markdown !== "string") label.markdown = label.markdown == null ? "" : String(label.markdown);
      $("md").value = label.markdown; preview();
    }
    status(item.done ? "already decided: a new verdict replaces it" : "");
    validate();
  }

  function preview() { $("preview").innerHTML = window.renderMarkdown($("md").value); }
  function changed() { clearTimeout(timer); timer = setTimeout(validate, 250); }
  async function validate() {
    if (!item || !form) return;
    const { data } = await api("api/validate", { task: item.task, label: form.label });
    const unplaced = form.showErrors(data.errors || [], [$("mdpane")]);
    if (unplaced.length) status(unplaced.map(e => (e.loc ? e.loc + ": " : "") + e.msg).join("; "), "error");
    else if ($("status").className === "error" && !(data.errors || []).length) status("");
    return data.errors || [];
  }

  async function decide(verdict, reason) {
    if (!item || busy) return;
    busy = true;
    try {
      const body = { queue: item.queue, position: item.position, verdict, revision: item.revision, reason };
      if (verdict === "accept") body.label = form.label;
      const { status: code, data } = await api("api/verdict", body);
      if (code === 200) {
        status(`${data.verdict} stored (revision ${data.revision})`, "ok");
        document.body.dataset.last = data.verdict;
        await load({ queue: item.queue, after: item.position });
      } else if (code === 422) {
        const unplaced = form.showErrors(data.errors || [], [$("mdpane")]);
        status(data.error + (unplaced.length ? ": " + unplaced.map(e => e.msg).join("; ") : ""), "error");
      } else if (code === 409) {
        status("conflict: " + data.error + ". Your edits are still here; copy what you need, then reload.", "error");
        document.body.dataset.last = "conflict";
      } else {
        status(data.error || ("HTTP " + code), "error");
      }
    } finally { busy = false; }
  }
  function reject() {
    if (!item) return;
    const select = $("reason"); select.textContent = "";
    for (const r of item.reasons) { const o = document.createElement("option"); o.value = r; o.textContent = r.replace(/_/g, " "); select.appendChild(o); }
    $("reasonnote").value = ""; $("rejectdlg").showModal(); select.focus();
  }
  $("rejectform").addEventListener("submit", e => {
    e.preventDefault(); $("rejectdlg").close();
    const note = $("reasonnote").value.trim();
    decide("reject", $("reason").value + (note ? ": " + note : ""));
  });
  $("reject-cancel").addEventListener("click", () => $("rejectdlg").close());

  $("md").addEventListener("input", () => { if (form) { form.label.markdown = $("md").value; preview(); changed(); } });
  $("accept").addEventListener("click", () => decide("accept"));
  $("reject").addEventListener("click", reject);
  $("skip").addEventListener("click", () => decide("skip"));
  $("next").addEventListener("click", () => item && load({ queue: item.queue, after: item.position }));
  $("prev").addEventListener("click", () => item && load({ queue: item.queue, before: item.position }));

  document.addEventListener("keydown", e => {
    if ($("rejectdlg").open) return;
    if (e.ctrlKey && e.key === "Enter") { e.preventDefault(); decide("accept"); return; }
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
    if (typing) { if (e.key === "Escape") e.target.blur(); return; }
    if (e.ctrlKey || e.altKey || e.metaKey) return;
    const keys = { a: () => decide("accept"), r: reject, s: () => decide("skip"),
      j: () => $("next").click(), ArrowRight: () => $("next").click(), k: () => $("prev").click(),
      ArrowLeft: () => $("prev").click(), "+": () => zoom(1.25), "=": () => zoom(1.25), "-": () => zoom(0.8), "0": fit };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
  });

  // zoom and pan: a CSS transform on the image
  function apply() { $("page").style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`; }
  function fit() {
    const img = $("page"), stage = $("stage");
    if (!img.naturalWidth) return;
    view.scale = Math.min(stage.clientWidth / img.naturalWidth, stage.clientHeight / img.naturalHeight);
    view.x = (stage.clientWidth - img.naturalWidth * view.scale) / 2; view.y = 0; apply();
  }
  function zoom(factor, cx, cy) {
    const stage = $("stage");
    cx = cx === undefined ? stage.clientWidth / 2 : cx; cy = cy === undefined ? stage.clientHeight / 2 : cy;
    view.x = cx - (cx - view.x) * factor; view.y = cy - (cy - view.y) * factor; view.scale *= factor; apply();
  }
  $("zoom-in").addEventListener("click", () => zoom(1.25));
  $("zoom-out").addEventListener("click", () => zoom(0.8));
  $("zoom-fit").addEventListener("click", fit);
  $("stage").addEventListener("wheel", e => {
    e.preventDefault(); const r = $("stage").getBoundingClientRect();
    zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  let drag = null;
  $("stage").addEventListener("mousedown", e => { drag = { x: e.clientX - view.x, y: e.clientY - view.y }; $("stage").classList.add("panning"); });
  window.addEventListener("mousemove", e => { if (drag) { view.x = e.clientX - drag.x; view.y = e.clientY - drag.y; apply(); } });
  window.addEventListener("mouseup", () => { drag = null; $("stage").classList.remove("panning"); });
  window.addEventListener("resize", fit);

  // start: the item in the address (#queue/position), else the first one still to decide
  if (location.search.includes("token=")) history.replaceState(null, "", location.pathname + location.hash);
  function fromHash() {
    const m = /^#([a-z_]+)\/(\d+)$/.exec(location.hash);
    if (m && item && item.queue === m[1] && String(item.position) === m[2]) return;   // shown already
    load(m ? { queue: m[1], position: m[2] } : { queue: "invalid", after: -1 });
  }
  window.addEventListener("hashchange", fromHash);   // a link or a typed #queue/position opens that item
  fromHash();
})();

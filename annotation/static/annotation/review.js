// Review desk: claim a task from a queue, show its whole sequence, the model's suggestions and labelled look-alikes,
// and label it from the keyboard. One verdict labels every frame, except frames split off with `x`.
(function () {
  const root = document.getElementById("review");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const csrf = (root.querySelector("[name=csrfmiddlewaretoken]") || {}).value || "";
  const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
  const pct = (p) => `${Math.round(p * 100)}%`;
  const taxaByName = new Map([...document.querySelectorAll("#taxon-names option")].map((o) => [o.value.toLowerCase(), o.dataset.slug]));
  const slugs = new Set(taxaByName.values());

  let queue = null, task = null, frame = 0, suggestions = [], split = {}, splitNext = false, box = null;
  let drawing = false, drawStart = null, player = null;
  const predictions = new Map();

  function say(text, bad) {
    const status = $("status");
    status.hidden = !text;
    status.textContent = text || "";
    status.classList.toggle("error", !!bad);
  }

  async function api(url, options = {}) {
    const response = await fetch(url, {credentials: "same-origin", ...options, headers: {
      Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf, ...(options.headers || {})}});
    const body = response.status === 204 ? null : await response.json().catch(() => ({}));
    return {ok: response.ok, status: response.status, body};
  }

  function detail(body) {
    if (!body) return "";
    if (body.detail) return body.detail;
    return Object.entries(body).map(([key, value]) => `${key}: ${[].concat(value).join(" ")}`).join("; ");
  }

  async function refreshQueues() {
    const {ok, body} = await api(root.dataset.queuesUrl);
    if (!ok) return;
    $("queues").innerHTML = body.map((q) => `<li><button type="button" data-queue="${esc(q.queue)}">${esc(q.name)} <span class="count">${q.open}</span></button></li>`).join("")
      || '<li class="muted">Nothing waiting in your queues.</li>';
  }

  async function claim(wanted) {
    queue = wanted;
    const {ok, status, body} = await api(root.dataset.claimUrl, {method: "POST", body: JSON.stringify({queue})});
    if (status === 204) { $("work").hidden = $("decide").hidden = true; say(`${task === null && !$("status").hidden ? $("status").textContent + " " : ""}The ${queue} queue is empty.`); task = null; refreshQueues(); return; }
    if (!ok) { say(detail(body), true); return; }
    show(body);
  }

  function show(data) {
    task = data; frame = Math.max(0, task.frames.findIndex((f) => f.id === task.image)); split = {}; splitNext = false; box = null;
    $("work").hidden = $("decide").hidden = false;
    $("work").dataset.task = task.id;
    $("task-queue").textContent = task.queue_name;
    // why this task is offered: its routing, and first why it left its taxon's queue when it waited too long
    const why = task.second_opinion ? `${task.second_opinion}; ${task.reason}` : task.reason;
    $("task-reason").textContent = why;
    $("task-double").hidden = task.reviews_needed < 2;
    const current = task.current_label;
    $("current-label").textContent = current ? `Current label: ${current.taxon.name_en} by ${current.author || "an import"} (${current.source})` : "Not labelled yet.";
    $("taxon-search").value = "";
    $("strip").innerHTML = task.frames.map((f, i) => `<img src="${esc(f.thumbnail_url)}" data-index="${i}" alt="frame ${i + 1}">`).join("");
    showFrame(frame);
    loadSuggestions();
    setMode();
  }

  function showFrame(index) {
    frame = (index + task.frames.length) % task.frames.length;
    const f = task.frames[frame], video = f.kind === "video";
    $("frame").hidden = video; $("frame-video").hidden = !video;
    if (video) $("frame-video").src = f.url; else $("frame").src = f.url;
    $("frame").dataset.frame = f.id;
    $("frame-position").textContent = `${frame + 1} / ${task.frames.length}`;
    document.querySelectorAll("#strip img").forEach((img, i) => {
      img.classList.toggle("here", i === frame);
      img.classList.toggle("split", !!split[task.frames[i].id]);
    });
    placeBox($("box-drawn"), box && box.frame === f.id ? [box.x, box.y, box.w, box.h] : null);
    predictionOf(f.id).then((p) => { if (task && task.frames[frame].id === f.id) placeBox($("box-predicted"), p && p.image.box); });
  }

  function placeBox(element, rect) {
    element.hidden = !rect;
    if (!rect) return;
    Object.assign(element.style, {left: pct(rect[0]), top: pct(rect[1]), width: pct(rect[2]), height: pct(rect[3])});
  }

  function predictionOf(id) {
    if (!predictions.has(id)) predictions.set(id, api(`${root.dataset.imageApi}${id}/prediction/`).then((r) => (r.ok ? r.body : null)));
    return predictions.get(id);
  }

  async function loadSuggestions() {
    const shown = task.id;
    const p = await predictionOf(task.image);
    if (!task || task.id !== shown) return;
    if (!p) { $("prediction").textContent = "No prediction yet: type the taxon."; suggestions = []; $("suggestions").innerHTML = ""; $("references").textContent = ""; return; }
    const ranked = (p.sequence && p.sequence.top.length ? p.sequence.top : p.image.top).filter((row) => row.taxon).slice(0, 3);
    suggestions = ranked.map((row) => row.taxon);
    const zero = p.version.zero_shot ? ' <span class="zero-shot">zero-shot</span>' : "";
    const seq = !p.sequence ? "" : p.sequence.rollup ? ` Sequence: <em class="rollup">${esc(p.sequence.rollup.taxon.name_en)} (roll-up: no species over ${pct(p.sequence.threshold)})</em> ${pct(p.sequence.rollup.probability)}.` : ` Sequence: ${p.sequence.undefined ? "undefined, " : ""}${esc(p.sequence.taxon ? p.sequence.taxon.name_en : p.sequence.category)} ${pct(p.sequence.score)}.`;
    $("prediction").innerHTML = `Model: <span class="label">${esc(p.image.taxon ? p.image.taxon.name_en : p.image.category)}</span> ${pct(p.image.score)}.${seq}${zero}`;
    $("suggestions").innerHTML = ranked.map((row, i) => `<li><button type="button" data-slug="${esc(row.taxon.slug)}">${i + 1}. ${esc(row.taxon.name_en)} <span class="muted">${esc(row.taxon.name_fr)}</span> ${pct(row.probability)}</button></li>`).join("");
    loadReferences(shown);
  }

  async function loadReferences(shown) {
    if (!suggestions.length) { $("references").textContent = ""; return; }
    const ids = suggestions.map((t) => t.id).join(",");
    const {ok, body} = await api(`${root.dataset.imageApi}${task.image}/similar/?taxa=${ids}&k=4`);
    if (!task || task.id !== shown) return;
    if (!ok) { $("references").textContent = "No reference images."; return; }
    const names = new Map(suggestions.map((t) => [t.id, t.name_en]));
    $("references").innerHTML = body.by_taxon.map((group) => `<h3>${esc(names.get(group.taxon))}</h3><div class="strip">${
      group.results.map((r) => `<a href="${esc(r.url)}" target="_blank" title="cosine ${r.similarity}"><img src="${esc(r.thumbnail_url)}" alt="labelled ${esc(names.get(group.taxon))}"></a>`).join("")
      || '<span class="muted">none labelled nearby</span>'}</div>`).join("");
  }

  function setMode() {
    const mode = $("mode");
    const text = splitNext ? `next choice labels frame ${frame + 1} only` : drawing ? "drag to draw the box" : "";
    mode.hidden = !text; mode.textContent = text;
    $("viewer").classList.toggle("drawing", drawing);
    const count = Object.keys(split).length;
    $("split-note").textContent = count ? `${count} frame(s) split off; your next choice labels the others.` : "";
  }

  async function choose(slug) {
    if (!task || !slug) return;
    if (splitNext) {
      split[task.frames[frame].id] = slug; splitNext = false;
      showFrame(frame); setMode();
      return;
    }
    const body = {taxon: slug, split, box, expected_current: task.labels_stamp};
    await send("label", body, (r) => r.waiting_for_second_review ? "Saved; a second expert will review it blind." : `Labelled ${task.frames.length} frame(s).`);
  }

  async function send(action, body, done) {
    const sent = task;
    const {ok, status, body: reply} = await api(`${root.dataset.taskUrl}${sent.id}/${action}/`, {method: "POST", body: JSON.stringify(body || {})});
    if (!ok) {
      say(detail(reply) + (status === 409 ? " Press n for the next task." : ""), true);
      return;
    }
    say(done(reply));
    task = null;  // keys do nothing until the next task is shown, so no verdict lands on the finished one
    $("suggestions").innerHTML = "";
    refreshQueues();
    claim(queue);
  }

  function typed() {
    const text = $("taxon-search").value.trim().toLowerCase();
    return taxaByName.get(text) || (slugs.has(text) ? text : null);
  }

  const keys = {
    Enter: () => suggestions[0] && choose(suggestions[0].slug),
    y: () => suggestions[0] && choose(suggestions[0].slug),
    1: () => suggestions[0] && choose(suggestions[0].slug),
    2: () => suggestions[1] && choose(suggestions[1].slug),
    3: () => suggestions[2] && choose(suggestions[2].slug),
    e: () => choose("empty"),
    h: () => choose("human"),
    u: () => send("unsure", {}, () => "Sent to triage for another expert."),
    s: () => send("skip", {}, () => "Skipped; it stays in the queue for others."),
    n: () => claim(queue),
    ArrowLeft: () => showFrame(frame - 1),
    ArrowRight: () => showFrame(frame + 1),
    " ": () => togglePlay(),
    x: () => { splitNext = !splitNext; setMode(); },
    b: () => { drawing = !drawing; setMode(); },
    Escape: () => { splitNext = false; drawing = false; setMode(); },
    "/": () => $("taxon-search").focus(),
  };

  document.addEventListener("keydown", (event) => {
    if (event.target.id === "taxon-search") {
      if (event.key === "Enter") { event.preventDefault(); const slug = typed(); if (slug) { event.target.blur(); choose(slug); } else say("Unknown taxon: pick one from the list.", true); }
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (!task || event.ctrlKey || event.metaKey || event.altKey || ["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName)) return;
    const action = keys[event.key];
    if (action) { event.preventDefault(); action(); }
  });

  function togglePlay() {
    if (player) { clearInterval(player); player = null; $("play").textContent = "Play (space)"; return; }
    player = setInterval(() => showFrame(frame + 1), 600);
    $("play").textContent = "Pause (space)";
  }

  function relative(event) {
    const rect = $("frame").getBoundingClientRect();
    return [Math.min(Math.max((event.clientX - rect.left) / rect.width, 0), 1), Math.min(Math.max((event.clientY - rect.top) / rect.height, 0), 1)];
  }

  $("viewer").addEventListener("mousedown", (event) => { if (drawing) { drawStart = relative(event); event.preventDefault(); } });
  $("viewer").addEventListener("mousemove", (event) => {
    if (!drawStart) return;
    const [x, y] = relative(event);
    placeBox($("box-drawn"), [Math.min(x, drawStart[0]), Math.min(y, drawStart[1]), Math.abs(x - drawStart[0]), Math.abs(y - drawStart[1])]);
  });
  $("viewer").addEventListener("mouseup", (event) => {
    if (!drawStart) return;
    const [x, y] = relative(event), w = Math.abs(x - drawStart[0]), h = Math.abs(y - drawStart[1]);
    if (w > 0.01 && h > 0.01) box = {frame: task.frames[frame].id, x: Math.min(x, drawStart[0]), y: Math.min(y, drawStart[1]), w, h};
    drawStart = null; drawing = false; setMode(); showFrame(frame);
  });

  root.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) {
      const thumb = event.target.closest("#strip img");
      if (thumb) showFrame(Number(thumb.dataset.index));
      return;
    }
    if (button.dataset.queue) claim(button.dataset.queue);
    else if (button.dataset.slug) choose(button.dataset.slug);
    else if (button.dataset.key) keys[button.dataset.key]();
    else if (button.id === "play") togglePlay();
  });

  const start = new URLSearchParams(window.location.search).get("queue");
  if (start) claim(start);
})();

// Review desk: claim a task from a queue, show its whole sequence, the suggestions (a partner's choice first, then
// the model's) and labelled look-alikes, and label it from the keyboard. One verdict labels every frame, except
// frames split off with `x`; it may carry boxes (each with its taxon) and counts and details per taxon. Every
// verdict can be undone (`z`): the server withdraws its labels and gives the task back.
(function () {
  const root = document.getElementById("review");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const csrf = (root.querySelector("[name=csrfmiddlewaretoken]") || {}).value || "";
  const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
  const pct = (p) => `${Math.round(p * 100)}%`;  // a CSS length
  const {toast, typing} = window.Faune;
  // The words people read, translated by the server: {name} marks what this script fills in.
  const words = JSON.parse($("review-words").textContent);
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");

  let queue = null, task = null, frame = 0, suggestions = [], split = {}, splitNext = false, boxes = [];
  let drawing = false, drawStart = null, player = null, generation = 0;
  const predictions = new Map();
  const recent = JSON.parse($("recent-decisions").textContent);  // the user's last decisions, newest first

  // Taxa, by slug and by every name a person may type; refreshed from the server on each task, so a taxon a
  // coordinator added since the page loaded is known without a reload.
  let taxa = new Map(), names = new Map();

  const {french, named, otherName, percent} = window.FauneReading;

  function learnTaxa(list) {
    taxa = new Map(list.map((t) => [t.slug, t]));
    names = new Map();
    list.forEach((t) => [t.slug, t.name_en, t.name_fr].forEach((name) => name && names.set(name.toLowerCase(), t.slug)));
    $("taxon-names").innerHTML = list.map((t) => `<option value="${esc(named(t))}" data-slug="${esc(t.slug)}" data-id="${t.id}" data-en="${esc(t.name_en)}" data-fr="${esc(t.name_fr)}">${esc(otherName(t))}</option>`).join("");
  }
  learnTaxa([...document.querySelectorAll("#taxon-names option")].map((o) => ({id: Number(o.dataset.id), slug: o.dataset.slug, name_en: o.dataset.en, name_fr: o.dataset.fr})));

  async function refreshTaxa() {
    const {ok, body} = await api(root.dataset.taxaUrl);
    if (ok) learnTaxa(body);
  }

  async function resolve(text) {  // a typed name to a slug; asks the server again before calling it unknown
    const key = text.trim().toLowerCase();
    if (!key) return null;
    if (!names.has(key)) await refreshTaxa();
    return names.get(key) || null;
  }

  const nameOf = (slug) => named(taxa.get(slug) || {name_en: slug});

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
    return Object.entries(body).map(([key, value]) => `${key}: ${JSON.stringify(value)}`).join("; ");
  }

  // ---- queues and tasks ----

  async function refreshQueues() {
    const {ok, body} = await api(root.dataset.queuesUrl);
    if (!ok) return;
    $("queues").innerHTML = body.map((q) => `<li><button type="button" data-queue="${esc(q.queue)}">${esc((french && q.name_fr) || q.name)} <span class="count">${q.open}</span></button></li>`).join("")
      || `<li class="muted">${esc(words.nothing_waiting)}</li>`;
  }

  async function claim(wanted) {
    queue = wanted;
    const mine = ++generation;
    const {ok, status, body} = await api(root.dataset.claimUrl, {method: "POST", body: JSON.stringify({queue})});
    if (mine !== generation) {  // an undo brought an earlier task back meanwhile: give this one back at once
      if (ok && body) release(body.id);
      return;
    }
    if (status === 204) { $("work").hidden = $("decide").hidden = true; say(`${task === null && !$("status").hidden ? $("status").textContent + " " : ""}${words.queue_empty}`); task = null; refreshQueues(); return; }
    if (!ok) { say(detail(body), true); return; }
    show(body);
  }

  function release(id) {
    return api(`${root.dataset.taskUrl}${id}/release/`, {method: "POST", body: "{}"});
  }

  function show(data) {
    task = data; frame = Math.max(0, task.frames.findIndex((f) => f.id === task.image));
    split = {}; splitNext = false; boxes = []; drawing = false;
    $("work").hidden = $("decide").hidden = false;
    $("work").dataset.task = task.id;
    $("task-queue").textContent = task.queue_name;
    // why this task is offered: its routing, and first why it left its taxon's queue when it waited too long
    $("task-reason").textContent = task.second_opinion ? `${task.second_opinion}${words.between}${task.reason}` : task.reason;
    $("task-double").hidden = task.reviews_needed < 2;
    const current = task.current_label;
    $("current-label").textContent = current ? fill(words.current_label, {taxon: named(current.taxon),
      who: current.author || words.an_import, source: words.sources[current.source] || current.source}) : words.not_labelled;
    $("taxon-search").value = "";
    closePropose();
    resetObservations();
    viewer.reset();
    $("strip").innerHTML = task.frames.map((f, i) => `<img src="${esc(f.thumbnail_url)}" data-index="${i}" alt="${esc(fill(words.frame, {number: i + 1}))}">`).join("");
    showFrame(frame);
    renderBoxes();
    loadSuggestions();
    setMode();
    refreshTaxa();
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
    drawBoxes();
    placeBox($("box-predicted"), null);
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

  // ---- suggestions: the label the task checks (a partner's correction) first, then the model's top ----

  async function loadSuggestions() {
    const shown = task.id;
    const p = await predictionOf(task.image);
    if (!task || task.id !== shown) return;
    const checked = task.checks_label;
    const ranked = !p ? [] : (p.sequence && p.sequence.top.length ? p.sequence.top : p.image.top).filter((row) => row.taxon);
    suggestions = [];
    if (checked) {
      const role = words.roles[checked.role] || checked.role;
      suggestions.push({taxon: checked.taxon, note: fill(checked.author ? words.choice_by : words.choice, {role, author: checked.author})});
    }
    ranked.forEach((row) => { if (!suggestions.some((s) => s.taxon.id === row.taxon.id)) suggestions.push({taxon: row.taxon, probability: row.probability}); });
    suggestions = suggestions.slice(0, checked ? 4 : 3);
    $("prediction").innerHTML = p ? modelLine(p) : words.no_prediction;
    $("suggestions").innerHTML = suggestions.map((s, i) => `<li><button type="button" data-slug="${esc(s.taxon.slug)}">${i + 1}. ${esc(named(s.taxon))} <span class="muted">${esc(otherName(s.taxon))}</span> ${
      s.note ? `<span class="partner-choice">${esc(s.note)}</span>` : percent(s.probability)}${i === 0 ? ` <span class="muted">(${esc(words.enter)})</span>` : ""}</button></li>`).join("");
    setMode();
    loadReferences(shown);
  }

  function modelLine(p) {
    const zero = p.version.zero_shot ? ` <span class="zero-shot">${esc(words.zero_shot)}</span>` : "";
    const seq = !p.sequence ? "" : p.sequence.rollup ? ` ${esc(words.sequence)} <em class="rollup">${esc(named(p.sequence.rollup.taxon))} (${esc(fill(words.rollup, {threshold: percent(p.sequence.threshold)}))})</em> ${percent(p.sequence.rollup.probability)}.` : ` ${esc(words.sequence)} ${p.sequence.undefined ? `${esc(words.undefined)}, ` : ""}${esc(p.sequence.taxon ? named(p.sequence.taxon) : words.categories[p.sequence.category] || p.sequence.category)} ${percent(p.sequence.score)}.`;
    return `${esc(words.model)} <span class="label">${esc(p.image.taxon ? named(p.image.taxon) : words.categories[p.image.category] || p.image.category)}</span> ${percent(p.image.score)}.${seq}${zero}`;
  }

  async function loadReferences(shown) {
    if (!suggestions.length) { $("references").textContent = ""; return; }
    const ids = suggestions.slice(0, 3).map((s) => s.taxon.id).join(",");
    const {ok, body} = await api(`${root.dataset.imageApi}${task.image}/similar/?taxa=${ids}&k=4`);
    if (!task || task.id !== shown) return;
    if (!ok) { $("references").textContent = words.no_references; return; }
    const label = new Map(suggestions.map((s) => [s.taxon.id, named(s.taxon) + (s.note ? ` (${s.note})` : "")]));
    $("references").innerHTML = body.by_taxon.map((group) => `<h3>${esc(label.get(group.taxon))}</h3><div class="strip" data-taxon="${group.taxon}">${
      group.results.map((r) => `<a href="${esc(r.url)}" target="_blank" title="${esc(fill(words.cosine, {value: r.similarity}))}"><img src="${esc(r.thumbnail_url)}" alt="${esc(fill(words.labelled, {name: label.get(group.taxon)}))}"></a>`).join("")
      || `<span class="muted">${esc(words.none_nearby)}</span>`}</div>`).join("");
  }

  function setMode() {
    const mode = $("mode");
    const text = splitNext ? fill(words.split_next, {number: frame + 1}) : drawing ? words.drawing : "";
    mode.hidden = !text; mode.textContent = text;
    $("viewer").classList.toggle("drawing", drawing);
    const count = Object.keys(split).length;
    $("split-note").textContent = count ? fill(words.split_off, {count}) : "";
    const main = document.querySelector("#observations .observation[data-main] .obs-taxon");
    if (main) main.textContent = words.your_choice;
    $("view-state").textContent = viewer.describe();
  }

  // ---- boxes: several per frame, each with its taxon (empty: the taxon the verdict gives its frame) ----

  function boxTaxon(b, main) {
    return b.taxon || split[b.frame] || main;
  }

  function drawBoxes() {
    const here = task.frames[frame].id;
    $("boxes-drawn").innerHTML = boxes.map((b, i) => b.frame !== here ? "" :
      `<div class="box drawn" style="left:${pct(b.x)};top:${pct(b.y)};width:${pct(b.w)};height:${pct(b.h)}"><span class="tag">${i + 1}${b.taxon ? " " + esc(nameOf(b.taxon)) : ""}</span></div>`).join("");
  }

  function renderBoxes() {
    $("boxes").innerHTML = boxes.map((b, i) => `<li data-box="${i}">${esc(fill(words.box_on_frame, {number: i + 1, frame: task.frames.findIndex((f) => f.id === b.frame) + 1}))}
      <input class="box-taxon" list="taxon-names" value="${esc(b.taxon ? nameOf(b.taxon) : "")}" placeholder="${esc(words.frame_taxon)}" aria-label="${esc(fill(words.box_animal, {number: i + 1}))}">
      <button type="button" class="link box-remove" title="${esc(fill(words.box_remove, {number: i + 1}))}">×</button></li>`).join("") || `<li class="muted">${esc(words.none_drawn)}</li>`;
    drawBoxes();
    countPlaceholders();
  }

  async function nameBox(index, text) {
    const slug = text.trim() ? await resolve(text) : "";
    if (slug === null) { say(fill(words.unknown_box, {name: text, number: index + 1}), true); return; }
    boxes[index].taxon = slug;
    if (slug) ensureObservation(slug);
    renderBoxes();
  }

  function removeBox(index) {
    boxes.splice(index, 1);
    renderBoxes();
  }

  // ---- counts and details per taxon (Camtrap DP: count, lifeStage, sex, behavior) ----

  function addObservationRow(main) {
    const row = $("observation-row").content.firstElementChild.cloneNode(true);
    if (main) { row.dataset.main = "1"; row.querySelector(".obs-remove").hidden = true; }
    else row.querySelector(".obs-taxon").innerHTML = `<input class="obs-taxon-name" list="taxon-names" placeholder="${esc(words.taxon)}" aria-label="${esc(words.taxon_seen)}">`;
    $("observations").appendChild(row);
    return row;
  }

  function resetObservations() {
    $("observations").innerHTML = "";
    addObservationRow(true);
  }

  function ensureObservation(slug) {
    const rows = [...document.querySelectorAll("#observations .observation:not([data-main])")];
    if (rows.some((row) => row.dataset.slug === slug)) return;
    const row = addObservationRow(false);
    row.dataset.slug = slug;
    row.querySelector(".obs-taxon-name").value = nameOf(slug);
  }

  function boxCount(slug, main) {  // the most boxes of this taxon on one frame: how many were seen at once
    const perFrame = new Map();
    boxes.filter((b) => boxTaxon(b, main) === slug).forEach((b) => perFrame.set(b.frame, (perFrame.get(b.frame) || 0) + 1));
    return Math.max(0, ...perFrame.values());
  }

  function countPlaceholders() {
    const main = suggestions[0] ? suggestions[0].taxon.slug : null;
    document.querySelectorAll("#observations .observation").forEach((row) => {
      const slug = row.dataset.main ? main : row.dataset.slug;
      const counted = slug ? boxCount(slug, main) : 0;
      row.querySelector(".obs-count").placeholder = counted ? String(counted) : "";
    });
  }

  async function observationsFor(main) {  // [{taxon, count, …}] for the verdict, or throws a message
    const rows = [];
    for (const row of document.querySelectorAll("#observations .observation")) {
      let slug = main;
      if (!row.dataset.main) {
        const typed = row.querySelector(".obs-taxon-name").value;
        if (!typed.trim()) continue;
        slug = await resolve(typed);
        if (!slug) throw new Error(fill(words.unknown_detail, {name: typed}));
      }
      const typedCount = row.querySelector(".obs-count").value;
      const observation = {taxon: slug, count: typedCount ? Number(typedCount) : (boxCount(slug, main) || null),
        life_stage: row.querySelector(".obs-stage").value, sex: row.querySelector(".obs-sex").value,
        behavior: row.querySelector(".obs-behavior").value.trim()};
      if (!observation.count && !observation.life_stage && !observation.sex && !observation.behavior && row.dataset.main) continue;
      if (rows.some((other) => other.taxon === slug)) throw new Error(fill(words.listed_twice, {name: nameOf(slug)}));
      rows.push(observation);
    }
    return rows;
  }

  // ---- verdicts ----

  async function choose(slug) {
    if (!task || !slug) return;
    $("taxon-search").value = "";
    if (splitNext) {
      split[task.frames[frame].id] = slug; splitNext = false;
      showFrame(frame); setMode(); renderBoxes();
      return;
    }
    let observations;
    try { observations = await observationsFor(slug); } catch (error) { say(error.message, true); return; }
    const body = {taxon: slug, split, expected_current: task.labels_stamp, frames: task.frames.map((f) => f.id), observations,
      boxes: boxes.map((b) => ({frame: b.frame, x: b.x, y: b.y, w: b.w, h: b.h, taxon: b.taxon || null}))};
    await send("label", body);
  }

  async function send(action, body) {
    const sent = task;
    const {ok, status, body: reply} = await api(`${root.dataset.taskUrl}${sent.id}/${action}/`, {method: "POST", body: JSON.stringify(body || {})});
    if (!ok) {
      say(detail(reply) + (status === 409 ? ` ${words.press_next}` : ""), true);
      return;
    }
    saved(reply.saved);
    if (task !== sent) { refreshQueues(); return; }  // an undo meanwhile brought an earlier task back: keep it
    task = null;  // keys do nothing until the next task is shown, so no verdict lands on the finished one
    $("suggestions").innerHTML = "";
    refreshQueues();
    claim(queue);
  }

  function saved(decision) {
    say(decision.summary);
    recent.unshift(decision);
    recent.splice(5);
    renderRecent();
    toast(decision.summary, {undo: () => undo(decision)});
  }

  // ---- undo: the server withdraws the verdict's labels (a new event) and gives the task back ----

  function renderRecent() {
    $("recent").innerHTML = recent.map((d) => `<li class="${d.undone ? "undone" : ""}">${esc(d.summary)}${
      d.undone ? "" : ` <button type="button" class="link" data-undo="${d.id}">${esc(words.undo)}</button>`}</li>`).join("")
      || `<li class="muted">${esc(words.none_yet)}</li>`;
  }

  async function undo(decision) {
    if (!decision) { toast(words.nothing_to_undo); return; }
    const {ok, body} = await api(`${root.dataset.decisionsUrl}${decision.id}/undo/`, {method: "POST", body: "{}"});
    if (!ok) { say(detail(body), true); toast(detail(body), {error: true, seconds: 12}); return; }
    decision.undone = true;
    renderRecent();
    say(body.saved.summary);
    toast(body.saved.summary);
    if (body.task) {
      generation++;  // a claim still in flight must not replace the task coming back
      if (task && task.id !== body.task.id) release(task.id);
      if (queue === null) queue = body.task.queue;
      show(body.task);
    }
    refreshQueues();
  }

  // ---- a taxon not in the list ----

  function openPropose() {
    if (!task) return;
    $("propose").hidden = false;
    $("propose-name").value = $("taxon-search").value.trim();
    $("propose-name").focus();
  }

  function closePropose() {
    $("propose").hidden = true;
  }

  async function propose(event) {
    event.preventDefault();
    const body = {name: $("propose-name").value, scientific_name: $("propose-scientific").value};
    const sent = task;
    const {ok, body: reply} = await api(`${root.dataset.taskUrl}${sent.id}/propose/`, {method: "POST", body: JSON.stringify(body)});
    if (!ok) { say(detail(reply), true); return; }
    $("propose-name").value = $("propose-scientific").value = "";
    closePropose();
    saved(reply.saved);
    task = null;
    refreshQueues();
    claim(queue);
  }

  // ---- keys ----

  const pick = (i) => () => suggestions[i] && choose(suggestions[i].taxon.slug);
  const keys = {
    Enter: pick(0), y: pick(0), 1: pick(0), 2: pick(1), 3: pick(2), 4: pick(3),
    e: () => choose("empty"),
    h: () => choose("human"),
    u: () => send("unsure", {}),
    s: () => send("skip", {}),
    n: () => claim(queue),
    p: openPropose,
    ArrowLeft: () => showFrame(frame - 1),
    ArrowRight: () => showFrame(frame + 1),
    " ": () => togglePlay(),
    x: () => { splitNext = !splitNext; setMode(); },
    b: () => { drawing = !drawing; setMode(); },
    t: () => { const inputs = document.querySelectorAll(".box-taxon"); if (inputs.length) inputs[inputs.length - 1].focus(); },
    Backspace: () => boxes.length && removeBox(boxes.length - 1),
    o: () => document.querySelector("#observations .observation[data-main] .obs-count").focus(),
    a: () => addObservationRow(false).querySelector(".obs-taxon-name").focus(),
    "+": () => viewer.zoomIn(), "=": () => viewer.zoomIn(), "-": () => viewer.zoomOut(), 0: () => viewer.reset(),
    l: () => viewer.lighter(), d: () => viewer.darker(), c: () => viewer.moreContrast(), v: () => viewer.lessContrast(),
    i: () => viewer.autoLevels($("frame")),
    Escape: () => { splitNext = false; drawing = false; closePropose(); setMode(); },
    "/": () => { $("taxon-search").value = ""; $("taxon-search").focus(); },
  };
  const anytime = {  // these work with no task shown too
    z: () => undo(recent.find((d) => !d.undone)),
    "?": () => toggleHelp(),
  };

  function toggleHelp(open = $("help").hidden) {
    $("help").hidden = !open;
    if (open) $("help-close").focus();
  }

  async function searchKey(event) {
    if (event.key === "Escape") { event.target.blur(); return; }
    if (event.key !== "Enter") return;
    event.preventDefault();
    const text = event.target.value;
    const slug = await resolve(text);
    if (!slug) { say(fill(words.unknown_taxon, {name: text}), true); return; }
    event.target.blur();
    choose(slug);
  }

  document.addEventListener("keydown", (event) => {
    if (!$("help").hidden) {
      if (event.key === "Escape" || event.key === "?") { event.preventDefault(); toggleHelp(false); }
      return;
    }
    if (event.target.id === "taxon-search") { searchKey(event); return; }
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); if (event.target.closest("#propose")) closePropose(); }
      if (event.key === "Enter" && event.target.classList.contains("box-taxon")) {
        event.preventDefault();
        nameBox(Number(event.target.closest("li").dataset.box), event.target.value);
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const action = anytime[event.key] || (task ? keys[event.key] : null);
    if (action) { event.preventDefault(); action(); }
  });

  function togglePlay() {
    if (player) { clearInterval(player); player = null; $("play").textContent = words.play; return; }
    player = setInterval(() => showFrame(frame + 1), 600);
    $("play").textContent = words.pause;
  }

  // ---- the viewer: zoom, pan, light; boxes are drawn in fractions of the frame, whatever the zoom ----

  const viewer = window.Faune.createViewer($("viewer"), $("stage"), [$("frame"), $("frame-video")],
    {canPan: () => !drawing, words: words.viewer, onChange: () => { $("view-state").textContent = viewer ? viewer.describe() : ""; }});

  function relative(event) {
    const media = $("frame").hidden ? $("frame-video") : $("frame");
    const rect = media.getBoundingClientRect();
    return [Math.min(Math.max((event.clientX - rect.left) / rect.width, 0), 1), Math.min(Math.max((event.clientY - rect.top) / rect.height, 0), 1)];
  }

  $("viewer").addEventListener("mousedown", (event) => { if (drawing) { drawStart = relative(event); event.preventDefault(); } });
  $("viewer").addEventListener("mousemove", (event) => {
    if (!drawStart) return;
    const [x, y] = relative(event);
    drawBoxes();
    $("boxes-drawn").insertAdjacentHTML("beforeend", `<div class="box drawn" style="left:${pct(Math.min(x, drawStart[0]))};top:${pct(Math.min(y, drawStart[1]))};width:${pct(Math.abs(x - drawStart[0]))};height:${pct(Math.abs(y - drawStart[1]))}"></div>`);
  });
  $("viewer").addEventListener("mouseup", (event) => {
    if (!drawStart) return;
    const [x, y] = relative(event), w = Math.abs(x - drawStart[0]), h = Math.abs(y - drawStart[1]);
    if (w > 0.01 && h > 0.01) boxes.push({frame: task.frames[frame].id, x: Math.min(x, drawStart[0]), y: Math.min(y, drawStart[1]), w, h, taxon: ""});
    drawStart = null; drawing = false; setMode(); renderBoxes();
  });

  // ---- clicks ----

  root.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) {
      const thumb = event.target.closest("#strip img");
      if (thumb) showFrame(Number(thumb.dataset.index));
      return;
    }
    if (button.dataset.queue) claim(button.dataset.queue);
    else if (button.dataset.slug) choose(button.dataset.slug);
    else if (button.dataset.undo) undo(recent.find((d) => String(d.id) === button.dataset.undo));
    else if (button.dataset.key) (keys[button.dataset.key] || (() => {}))();
    else if (button.id === "play") togglePlay();
    else if (button.id === "propose-cancel") closePropose();
    else if (button.id === "help-open") toggleHelp(true);
    else if (button.classList.contains("box-remove")) removeBox(Number(button.closest("li").dataset.box));
    else if (button.classList.contains("obs-remove")) button.closest(".observation").remove();
  });
  root.addEventListener("change", (event) => {
    if (event.target.classList.contains("box-taxon")) nameBox(Number(event.target.closest("li").dataset.box), event.target.value);
    if (event.target.classList.contains("obs-taxon-name")) resolve(event.target.value).then((slug) => { event.target.closest(".observation").dataset.slug = slug || ""; });
  });
  $("help-close").addEventListener("click", () => toggleHelp(false));
  $("help").addEventListener("click", (event) => { if (event.target === $("help")) toggleHelp(false); });
  $("propose").addEventListener("submit", propose);

  renderRecent();
  resetObservations();
  const start = new URLSearchParams(window.location.search).get("queue");
  if (start) claim(start);
})();

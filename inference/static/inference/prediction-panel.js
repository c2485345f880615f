// Image page: fetch the pre-label and the most similar images, and offer one-click acceptance (key: y).
(function () {
  const panel = document.getElementById("prelabel");
  if (!panel) return;
  const csrf = document.querySelector("[name=csrfmiddlewaretoken]");
  const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
  const name = (taxon, category) => taxon ? `${esc(taxon.name_en)} <span class="muted">(${esc(taxon.name_fr)})</span>` : esc(category);
  const pct = (p) => `${Math.round(p * 100)}%`;

  fetch(panel.dataset.predictionUrl, {headers: {Accept: "application/json"}}).then(async (response) => {
    const data = await response.json();
    if (!response.ok) { panel.innerHTML = `<p class="muted">${esc(data.detail || "No pre-label yet.")}</p>`; return; }
    const img = data.image, seq = data.sequence;
    const zero = data.version.zero_shot ? ' <span class="zero-shot">zero-shot</span>' : "";
    let html = `<p id="prelabel-top">Model says <span class="label">${name(img.taxon, img.category)}</span> ${pct(img.score)}${zero}</p>`;
    html += "<ol>" + img.top.slice(0, 3).map((row) => `<li>${name(row.taxon, "?")} ${pct(row.probability)}</li>`).join("") + "</ol>";
    // An undefined verdict whose family is sure shows the family, marked as a roll-up, and the species it beat.
    if (seq && seq.rollup) html += `<p id="sequence-verdict">Sequence: <span class="label">${name(seq.rollup.taxon, "?")}</span> ${pct(seq.rollup.probability)} <em class="rollup">(roll-up: no species over the ${pct(seq.threshold)} threshold; best ${name(seq.taxon, seq.category)} ${pct(seq.score)})</em></p>`;
    else if (seq) html += `<p id="sequence-verdict">Sequence: <span class="label">${seq.undefined ? "undefined — " : ""}${name(seq.taxon, seq.category)}</span> ${pct(seq.score)}</p>`;
    if (img.box) html += `<p class="muted">Classified the ${esc(img.box_source.replace("_", " "))} box.</p>`;
    if (panel.dataset.editable === "1" && img.taxon) html += '<button id="accept-prelabel" type="button">Accept pre-label (y)</button>';
    panel.innerHTML = html;
    const button = document.getElementById("accept-prelabel");
    if (button) {
      // The label shown as current goes along: if someone labelled the image since, nothing is overridden.
      const body = {images: [Number(panel.dataset.image)],
        expected_current: {[panel.dataset.image]: Number(panel.dataset.currentLabel || 0)}};
      // Saved: the reloaded page says what (its toast offers the undo). Refused: say why, here.
      const accept = () => fetch(panel.dataset.acceptUrl, {method: "POST", headers: {"Content-Type": "application/json",
        "X-CSRFToken": csrf ? csrf.value : ""}, body: JSON.stringify(body)})
        .then(async (response) => {
          if (response.ok) { window.location.reload(); return; }
          const data = await response.json().catch(() => ({}));
          panel.insertAdjacentHTML("beforeend", `<p class="message error">${esc(Object.values(data.conflicts || {})[0] || data.detail || "Not saved.")}</p>`);
        });
      const typing = (t) => ["INPUT", "SELECT", "TEXTAREA"].includes(t.tagName) || t.isContentEditable;
      button.addEventListener("click", accept);
      document.addEventListener("keydown", (e) => { if (e.key === "y" && !e.ctrlKey && !e.metaKey && !e.altKey && !typing(e.target)) accept(); });
    }
  });

  const similar = document.getElementById("similar");
  if (similar) fetch(similar.dataset.url, {headers: {Accept: "application/json"}}).then((r) => r.json()).then((data) => {
    similar.innerHTML = (data.results || []).map((row) =>
      `<a href="${row.url}" title="cosine ${row.similarity}"><img src="${row.thumbnail_url}" alt="similar image"></a>`).join("")
      || '<span class="muted">No similar image yet.</span>';
  });
})();

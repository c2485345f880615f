// Image page: fetch the pre-label and the most similar images, and offer one-click acceptance (key: y). The words come
// from the page (#prelabel-words), in the reader's language.
(function () {
  const panel = document.getElementById("prelabel");
  if (!panel) return;
  const words = JSON.parse(document.getElementById("prelabel-words").textContent);
  const csrf = document.querySelector("[name=csrfmiddlewaretoken]");
  const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");
  const {named, otherName, percent: pct} = window.FauneReading;
  // the reader's name of a taxon first, the other language's after it
  const name = (taxon, category) => {
    if (!taxon) return esc(words.categories[category] || category);
    const other = otherName(taxon);
    return other ? `${esc(named(taxon))} <span class="muted">(${esc(other)})</span>` : esc(named(taxon));
  };

  fetch(panel.dataset.predictionUrl, {headers: {Accept: "application/json"}}).then(async (response) => {
    const data = await response.json();
    if (!response.ok) { panel.innerHTML = `<p class="muted">${esc(data.detail || words.no_prelabel)}</p>`; return; }
    const img = data.image, seq = data.sequence;
    const zero = data.version.zero_shot ? ` <span class="zero-shot">${esc(words.zero_shot)}</span>` : "";
    let html = `<p id="prelabel-top">${esc(words.model_says)} <span class="label">${name(img.taxon, img.category)}</span> ${pct(img.score)}${zero}</p>`;
    html += "<ol>" + img.top.slice(0, 3).map((row) => `<li>${name(row.taxon, "?")} ${pct(row.probability)}</li>`).join("") + "</ol>";
    // An undefined verdict whose family is sure shows the family, marked as a roll-up, and the species it beat.
    if (seq && seq.rollup) {
      const note = fill(esc(words.rollup), {threshold: pct(seq.threshold), best: `${name(seq.taxon, seq.category)} ${pct(seq.score)}`});
      html += `<p id="sequence-verdict">${esc(words.sequence)} <span class="label">${name(seq.rollup.taxon, "?")}</span> ${pct(seq.rollup.probability)} <em class="rollup">(${note})</em></p>`;
    } else if (seq) {
      html += `<p id="sequence-verdict">${esc(words.sequence)} <span class="label">${seq.undefined ? `${esc(words.undefined)} — ` : ""}${name(seq.taxon, seq.category)}</span> ${pct(seq.score)}</p>`;
    }
    if (img.box) html += `<p class="muted">${esc(fill(words.classified_box, {source: img.box_source_label}))}</p>`;
    if (panel.dataset.editable === "1" && img.taxon) html += `<button id="accept-prelabel" type="button">${esc(words.accept)}</button>`;
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
          panel.insertAdjacentHTML("beforeend", `<p class="message error">${esc(Object.values(data.conflicts || {})[0] || data.detail || words.not_saved)}</p>`);
        });
      const typing = (t) => ["INPUT", "SELECT", "TEXTAREA"].includes(t.tagName) || t.isContentEditable;
      button.addEventListener("click", accept);
      document.addEventListener("keydown", (e) => { if (e.key === "y" && !e.ctrlKey && !e.metaKey && !e.altKey && !typing(e.target)) accept(); });
    }
  });

  const similar = document.getElementById("similar");
  if (similar) fetch(similar.dataset.url, {headers: {Accept: "application/json"}}).then((r) => r.json()).then((data) => {
    similar.innerHTML = (data.results || []).map((row) =>
      `<a href="${esc(row.url)}" title="${esc(fill(words.cosine, {value: row.similarity}))}"><img src="${esc(row.thumbnail_url)}" alt="${esc(words.similar_image)}"></a>`).join("")
      || `<span class="muted">${esc(words.no_similar)}</span>`;
  });
})();

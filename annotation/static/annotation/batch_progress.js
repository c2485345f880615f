// Follows the two phases of an upload or import, stored then pre-labelled, by polling two JSON endpoints (the
// batch, from this app; its pre-labelling, from the inference app) until neither has anything left to do.
(function () {
  const STORED_OVER = ["done", "failed"], PRELABEL_OVER = ["done", "failed", "no_model", "nothing"];
  const words = JSON.parse(document.getElementById("progress-words").textContent);
  const fill = window.FaunePlurals.fill;

  async function getJSON(url) {
    const answer = await fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"});
    if (!answer.ok) throw new Error(String(answer.status));
    return answer.json();
  }

  function show(phase, state, done, total, text) {
    phase.dataset.state = state;
    const bar = phase.querySelector("progress");
    // No moving "indeterminate" bar: it would say work goes on where the batch only waits.
    const full = state === "done" || state === "nothing" || state === "no_model";
    bar.max = total || 1;
    bar.value = total ? Math.min(done, total) : (full ? 1 : 0);
    phase.querySelector(".phase-state").textContent = words.states[state] || state;
    phase.querySelector(".phase-text").textContent = text;
  }

  // The pre-labelling state as a person reads it: while files are still being stored it waits for them (an
  // import is pre-labelled once all are in), and a batch that stored no image has nothing to pre-label.
  function prelabelState(pre, storedOver) {
    if (pre.state !== "waiting") return pre.state;
    if (!storedOver) return "after_stored";
    return pre.images > 0 ? "waiting" : "nothing";
  }

  // The page's heading says where the whole batch stands: storing, then pre-labelling, then done.
  function headline(storedState, prelabelState) {
    const heading = document.getElementById("batch-state");
    if (!heading) return;
    const busy = STORED_OVER.includes(storedState) && !PRELABEL_OVER.includes(prelabelState);
    heading.textContent = busy ? words.states.prelabelling : words.states[storedState] || storedState;
  }

  function prelabelText(pre, state) {
    let text = fill(words.prelabel[state], pre);
    if (pre.version && !["no_model", "nothing", "after_stored"].includes(state)) {
      text += " · " + fill(words.by_version, pre) + (pre.zero_shot ? " " + words.zero_shot : "");
    }
    return text;
  }

  function follow(root, options = {}) {
    const stored = root.querySelector("#phase-stored"), prelabel = root.querySelector("#phase-prelabel");
    const problem = root.querySelector(".phase-error");
    let before = null, ticks = 0;
    async function tick() {
      ticks += 1;
      let batch, pre;
      try {
        [batch, pre] = await Promise.all([getJSON(root.dataset.batchUrl), getJSON(root.dataset.prelabelUrl)]);
      } catch (error) {
        problem.textContent = words.lost; problem.hidden = false;
        setTimeout(tick, 5000); return;
      }
      problem.hidden = true;
      const s = batch.stored, storedOver = STORED_OVER.includes(s.state);
      show(stored, s.state, s.handled, s.total, fill(words.stored[s.state], {...s, error: batch.error}));
      const state = prelabelState(pre, storedOver);
      show(prelabel, state, pre.predicted, pre.images, prelabelText(pre, state));
      headline(s.state, state);
      document.querySelectorAll("[data-count]").forEach((el) => { el.textContent = batch.counts[el.dataset.count]; });
      if (before !== null && !STORED_OVER.includes(before) && storedOver && options.onStoredEnd) options.onStoredEnd();
      before = s.state;
      if (s.state === "mapping" || (storedOver && PRELABEL_OVER.includes(state))) return;  // nothing will move
      setTimeout(tick, ticks < 60 ? 2000 : 5000);
    }
    root.hidden = false;
    tick();
  }

  window.FauneBatchProgress = {follow};
  const page = document.querySelector("#batch-progress[data-follow=page]");
  // On a batch's page, the report below (refused files, class mapping) is drawn by the server: read it again once.
  if (page) follow(page, {onStoredEnd: () => window.location.reload()});
})();

// Upload page: open a batch, send files in small groups so the progress bar moves and one request never grows huge.
// Every drop goes into the same open upload until the person presses Done, which closes it; the page then follows
// its two phases (stored, pre-labelled) until both are over.
(function () {
  const $ = (id) => document.getElementById(id);
  // Groups stay within the server's per-request allowance (the page gives it), so only a day's allowance can stop us.
  const limits = $("upload-form").dataset;
  const GROUP_BYTES = Math.min(32 * 1024 * 1024, Number(limits.maxRequestBytes) || Infinity);
  const GROUP_FILES = Math.min(20, Number(limits.maxRequestFiles) || Infinity);
  const csrf = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const words = JSON.parse($("upload-words").textContent);
  const fill = window.FaunePlurals.fill;
  let batch = null, sending = false;
  const counts = {imported: 0, duplicate: 0, rejected: 0};

  function groups(files) {
    const out = []; let current = [], size = 0;
    for (const file of files) {
      if (current.length && (current.length >= GROUP_FILES || size + file.size > GROUP_BYTES)) {
        out.push(current); current = []; size = 0;
      }
      current.push(file); size += file.size;
    }
    if (current.length) out.push(current);
    return out;
  }

  function post(url, body, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      if (onProgress) xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded);
      xhr.onload = () => {
        let data = {}; try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        // 413 and 429: an upload allowance is spent; the server's message says which and when it resets.
        if (xhr.status >= 500 || [401, 403, 409, 413, 429].includes(xhr.status)) {
          reject(new Error(data.detail || fill(words.server, {status: xhr.status})));
        } else resolve({status: xhr.status, data});
      };
      xhr.onerror = () => reject(new Error(words.network));
      xhr.send(body);
    });
  }

  async function openBatch() {
    const form = new FormData();
    form.append("organisation", $("organisation").value);
    if ($("deployment").value) form.append("deployment", $("deployment").value);
    else form.append("deployment_name", $("deployment-name").value);
    const answer = await post("/api/batches/", form);
    if (answer.status !== 201) throw new Error(answer.data.detail || JSON.stringify(answer.data));
    return answer.data.id;
  }

  function fail(message) {
    $("upload-error").textContent = fill(words.stopped, {error: message});
    $("upload-error").hidden = false;
  }

  // While an upload is open, where it goes cannot change: its files would land in two places.
  function lockTarget(locked) {
    ["organisation", "deployment", "deployment-name"].forEach((id) => { $(id).disabled = locked; });
  }

  async function upload(files) {
    $("upload-error").hidden = true;
    if (!files.length) return;
    if (sending) { $("upload-error").textContent = words.busy; $("upload-error").hidden = false; return; }
    if (!batch && !$("deployment").value && !$("deployment-name").value.trim()) {
      $("upload-error").textContent = words.choose_deployment;
      $("upload-error").hidden = false; return;
    }
    const total = files.reduce((sum, f) => sum + f.size, 0);
    let sent = 0;
    sending = true; $("upload-finish").disabled = true;
    $("progress-box").hidden = false; $("upload-done").hidden = true; $("upload-progress").hidden = true;
    const show = (extra) => {
      $("progress").value = total ? (100 * Math.min(sent + extra, total)) / total : 100;
      $("progress-text").textContent = fill(words.sending, {...counts, percent: Math.round($("progress").value)});
    };
    try {
      if (!batch) { batch = await openBatch(); lockTarget(true); }
      for (const group of groups(files)) {
        const form = new FormData();
        group.forEach((f) => form.append("files", f, f.name));
        const answer = await post(`/api/batches/${batch}/files/`, form, show);
        (answer.data.files || []).forEach((item) => counts[item.outcome]++);
        sent += group.reduce((sum, f) => sum + f.size, 0);
        show(0);
      }
    } catch (error) {
      // Nothing got in: a full progress bar (the bytes did reach the server) would read as success.
      if (!counts.imported && !counts.duplicate && !counts.rejected) $("progress-box").hidden = true;
      fail(error.message);
    } finally {
      sending = false; $("upload-finish").disabled = false;
    }
    if (batch) showOpen();
  }

  function showOpen() {
    $("upload-open-text").textContent = fill(words.open, {batch, ...counts});
    $("batch-link").href = `/batches/${batch}/`;
    $("upload-open").hidden = false;
  }

  async function finish() {
    if (!batch || sending) return;
    $("upload-finish").disabled = true;
    try {
      await post(`/api/batches/${batch}/close/`, new FormData());
    } catch (error) {
      $("upload-finish").disabled = false; fail(error.message); return;
    }
    $("upload-open").hidden = true;
    $("upload-done").innerHTML = "";
    $("upload-done").append(fill(words.closed, {batch}) + " ");
    const link = document.createElement("a");
    link.id = "report-link"; link.href = `/batches/${batch}/`; link.textContent = words.report;
    $("upload-done").append(link);
    $("upload-done").hidden = false;
    const progress = $("batch-progress");
    progress.dataset.batchUrl = `/api/batches/${batch}/`;
    progress.dataset.prelabelUrl = `/api/batches/${batch}/prelabel/`;
    $("upload-progress").hidden = false;
    window.FauneBatchProgress.follow(progress);
    batch = null; lockTarget(false); // the next drop starts a new upload
    Object.keys(counts).forEach((key) => { counts[key] = 0; });
  }

  const zone = $("dropzone");
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.remove("over"); }));
  zone.addEventListener("drop", (e) => upload(Array.from(e.dataTransfer.files)));
  $("files").addEventListener("change", (e) => { upload(Array.from(e.target.files)); e.target.value = ""; });
  $("upload-finish").addEventListener("click", finish);
  $("organisation").addEventListener("change", () => {
    for (const option of $("deployment").options) {
      option.hidden = option.dataset.organisation && option.dataset.organisation !== $("organisation").value;
    }
  });
  $("organisation").dispatchEvent(new Event("change"));
})();

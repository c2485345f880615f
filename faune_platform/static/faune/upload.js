// Upload page: open a batch, send files in small groups so the progress bar moves and one request never grows huge.
(function () {
  const $ = (id) => document.getElementById(id);
  // Groups stay within the server's per-request allowance (the page gives it), so only a day's allowance can stop us.
  const limits = $("upload-form").dataset;
  const GROUP_BYTES = Math.min(32 * 1024 * 1024, Number(limits.maxRequestBytes) || Infinity);
  const GROUP_FILES = Math.min(20, Number(limits.maxRequestFiles) || Infinity);
  const csrf = document.querySelector("[name=csrfmiddlewaretoken]").value;

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
        if (xhr.status >= 500 || [401, 403, 413, 429].includes(xhr.status)) {
          reject(new Error(data.detail || ("The server answered " + xhr.status)));
        } else resolve({status: xhr.status, data});
      };
      xhr.onerror = () => reject(new Error("The connection failed; check the network and try again."));
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

  async function upload(files) {
    $("upload-error").hidden = true; $("upload-done").hidden = true;
    if (!files.length) return;
    if (!$("deployment").value && !$("deployment-name").value.trim()) {
      $("upload-error").textContent = "Choose a deployment or type a name for a new one first.";
      $("upload-error").hidden = false; return;
    }
    const total = files.reduce((sum, f) => sum + f.size, 0);
    let sent = 0; const counts = {imported: 0, duplicate: 0, rejected: 0};
    $("progress-box").hidden = false;
    const show = (extra) => {
      $("progress").value = total ? (100 * Math.min(sent + extra, total)) / total : 100;
      $("progress-text").textContent = `${counts.imported} imported, ${counts.duplicate} duplicate, ` +
        `${counts.rejected} rejected — ${Math.round($("progress").value)}%`;
    };
    try {
      const batch = await openBatch();
      for (const group of groups(files)) {
        const form = new FormData();
        group.forEach((f) => form.append("files", f, f.name));
        const answer = await post(`/api/batches/${batch}/files/`, form, show);
        (answer.data.files || []).forEach((item) => counts[item.outcome]++);
        sent += group.reduce((sum, f) => sum + f.size, 0);
        show(0);
      }
      $("upload-done").innerHTML = `Done. <a id="batch-link" href="/batches/${batch}/">See the report of this upload</a>.`;
      $("upload-done").hidden = false;
    } catch (error) {
      // Nothing got in: a full progress bar (the bytes did reach the server) would read as success.
      if (!counts.imported && !counts.duplicate && !counts.rejected) $("progress-box").hidden = true;
      $("upload-error").textContent = "Upload stopped: " + error.message;
      $("upload-error").hidden = false;
    }
  }

  const zone = $("dropzone");
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.remove("over"); }));
  zone.addEventListener("drop", (e) => upload(Array.from(e.dataTransfer.files)));
  $("files").addEventListener("change", (e) => upload(Array.from(e.target.files)));
  $("organisation").addEventListener("change", () => {
    for (const option of $("deployment").options) {
      option.hidden = option.dataset.organisation && option.dataset.organisation !== $("organisation").value;
    }
  });
  $("organisation").dispatchEvent(new Event("change"));
})();

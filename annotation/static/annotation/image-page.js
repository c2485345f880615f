// Image page: previous/next within the list it came from (arrow keys), and the stored boxes over the photo. Boxes
// stored with labels are drawn by the server; detector boxes come from the inference app's API (by URL only).
(function () {
  const typing = (target) => target.isContentEditable || ["SELECT", "TEXTAREA", "VIDEO"].includes(target.tagName)
    || (target.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(target.type));

  document.addEventListener("keydown", (event) => {
    // Alt+arrow is the browser's own back/forward; a field being typed in keeps its keys.
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || typing(event.target)) return;
    const link = {ArrowLeft: "previous-image", ArrowRight: "next-image"}[event.key];
    if (link && document.getElementById(link)) {
      event.preventDefault();
      window.location.href = document.getElementById(link).href;
    } else if (event.key === "b" && document.getElementById("show-boxes")) {
      document.getElementById("show-boxes").click();
    }
  });

  const photo = document.getElementById("photo");
  if (!photo) return;  // a video: no boxes
  const boxes = document.getElementById("boxes");
  const toggle = document.getElementById("show-boxes");
  toggle.addEventListener("change", () => boxes.classList.toggle("hidden", !toggle.checked));

  // the detector's categories in the reader's language, from the pre-label panel's words
  const {categories} = JSON.parse(document.getElementById("prelabel-words").textContent);
  const percent = (fraction) => `${(fraction * 100).toFixed(4)}%`;
  const drawDetection = (detection) => {
    const [x, y, w, h] = detection.box;
    const box = document.createElement("div");
    box.className = "box detector";
    Object.assign(box.style, {left: percent(x), top: percent(y), width: percent(w), height: percent(h)});
    box.title = `${detection.source_label}${detection.detector ? ` (${detection.detector})` : ""}`;
    const tag = document.createElement("span");
    tag.className = "box-tag";
    tag.textContent = `${categories[detection.category] || detection.category} ${detection.confidence.toFixed(2)}`;
    box.append(tag);
    boxes.append(box);
  };
  const count = document.getElementById("detector-box-count");
  fetch(photo.dataset.detectionsUrl, {headers: {Accept: "application/json"}})
    .then((response) => (response.ok ? response.json() : {detections: []}))
    .then((data) => {
      data.detections.forEach(drawDetection);
      count.textContent = data.detections.length;
    })
    .catch(() => { count.textContent = "?"; });
})();

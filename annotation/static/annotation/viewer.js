// Frame viewer: zoom (wheel at the cursor, or keys about the centre), pan by dragging a zoomed frame, brightness
// and contrast for dark infrared frames. The stage (photo and boxes together) is moved and scaled, never the
// layout, so boxes placed in percent of the stage stay on the animal at any zoom.
(function () {
  const MAX_ZOOM = 8, STEP = 1.25;
  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);

  // `words`: how describe() names zoom, light and contrast ({percent} is filled in); English by default.
  const ENGLISH = {zoom: "zoom {percent}%", light: "light {percent}%", contrast: "contrast {percent}%"};

  function createViewer(viewer, stage, media, {canPan = () => true, onChange = () => {}, words = ENGLISH} = {}) {
    let zoom = 1, x = 0, y = 0, light = 1, contrast = 1, drag = null;

    function apply() {
      // keep the frame covering the viewer: no black margin pans into view
      const width = viewer.clientWidth, height = viewer.clientHeight;
      x = clamp(x, width - width * zoom, 0);
      y = clamp(y, height - height * zoom, 0);
      stage.style.transform = `translate(${x}px, ${y}px) scale(${zoom})`;
      stage.style.setProperty("--zoom", zoom);
      const filter = light === 1 && contrast === 1 ? "" : `brightness(${light}) contrast(${contrast})`;
      media.forEach((element) => { element.style.filter = filter; });
      viewer.classList.toggle("zoomed", zoom > 1);
      onChange(state());
    }

    // zoom by `factor`, keeping the point (px, py) of the viewer where it is (default: the centre)
    function zoomBy(factor, px = viewer.clientWidth / 2, py = viewer.clientHeight / 2) {
      const next = clamp(zoom * factor, 1, MAX_ZOOM);
      x = px - (px - x) * (next / zoom);
      y = py - (py - y) * (next / zoom);
      zoom = next;
      apply();
    }

    function state() {
      return {zoom, light, contrast};
    }

    function describe() {
      const parts = [];
      const said = (text, value) => text.replace("{percent}", String(Math.round(value * 100)));
      if (zoom !== 1) parts.push(said(words.zoom, zoom));
      if (light !== 1) parts.push(said(words.light, light));
      if (contrast !== 1) parts.push(said(words.contrast, contrast));
      return parts.join(" · ");
    }

    viewer.addEventListener("wheel", (event) => {
      event.preventDefault();
      const rect = viewer.getBoundingClientRect();
      zoomBy(event.deltaY < 0 ? STEP : 1 / STEP, event.clientX - rect.left, event.clientY - rect.top);
    }, {passive: false});
    viewer.addEventListener("mousedown", (event) => {
      if (zoom === 1 || !canPan()) return;
      drag = {fromX: event.clientX - x, fromY: event.clientY - y};
      viewer.classList.add("panning");
      event.preventDefault();
    });
    window.addEventListener("mousemove", (event) => {
      if (!drag) return;
      x = event.clientX - drag.fromX;
      y = event.clientY - drag.fromY;
      apply();
    });
    window.addEventListener("mouseup", () => { drag = null; viewer.classList.remove("panning"); });
    window.addEventListener("resize", apply);

    return {
      zoomIn: () => zoomBy(STEP),
      zoomOut: () => zoomBy(1 / STEP),
      zoomBy,
      lighter: () => { light = clamp(Math.round((light + 0.2) * 10) / 10, 0.2, 4); apply(); },
      darker: () => { light = clamp(Math.round((light - 0.2) * 10) / 10, 0.2, 4); apply(); },
      moreContrast: () => { contrast = clamp(Math.round((contrast + 0.2) * 10) / 10, 0.2, 4); apply(); },
      lessContrast: () => { contrast = clamp(Math.round((contrast - 0.2) * 10) / 10, 0.2, 4); apply(); },
      reset: () => { zoom = 1; x = 0; y = 0; light = 1; contrast = 1; apply(); },
      autoLevels: (element) => { [light, contrast] = levels(element); apply(); },
      panning: () => !!drag,
      state,
      describe,
    };
  }

  // Brightness and contrast that stretch the frame's own range of grey (its 2nd to 98th percentile of luminance)
  // to the whole range: CSS computes (v * light - 0.5) * contrast + 0.5, so light = 1 / (hi + lo) and contrast =
  // (hi + lo) / (hi - lo) map lo to black and hi to white. What a dark infrared frame needs, in one key.
  function levels(element) {
    if (!element.naturalWidth) return [1, 1];
    const canvas = document.createElement("canvas");
    canvas.width = 64; canvas.height = 48;
    const context = canvas.getContext("2d", {willReadFrequently: true});
    context.drawImage(element, 0, 0, canvas.width, canvas.height);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const values = [];
    for (let i = 0; i < data.length; i += 4) values.push((0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]) / 255);
    values.sort((a, b) => a - b);
    const lo = values[Math.floor(values.length * 0.02)], hi = Math.max(values[Math.floor(values.length * 0.98)], lo + 0.02);
    return [clamp(1 / (hi + lo), 0.2, 8), clamp((hi + lo) / (hi - lo), 0.2, 8)];
  }

  window.Faune = Object.assign(window.Faune || {}, {createViewer});
})();

// Toast: one short line saying what was saved, with its undo. Shared by the review desk (which fills it) and the
// image page (which renders it with an undo form). `z` undoes, never while typing in a field.
(function () {
  const box = document.getElementById("toast");
  if (!box) return;
  const text = document.getElementById("toast-text");
  const undoButton = document.getElementById("toast-undo");
  const form = document.getElementById("undo-form");
  let timer = null, onUndo = null;

  function typing(target) {
    return !!target && (["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName) || target.isContentEditable);
  }

  function hide() {
    clearTimeout(timer);
    box.hidden = true;
  }

  // `undo`: what the Undo button does (none: no button); `error`: shown in red; stays `seconds` (0: until closed).
  function show(message, {undo = null, error = false, seconds = 8} = {}) {
    clearTimeout(timer);
    text.textContent = message;
    onUndo = undo;
    undoButton.hidden = !undo;
    box.classList.toggle("error", error);
    box.hidden = false;
    if (seconds) timer = setTimeout(hide, seconds * 1000);
  }

  document.getElementById("toast-close").addEventListener("click", hide);
  if (form) {
    // The image page: the offer is the server's; `z` posts the same form as the button.
    document.addEventListener("keydown", (event) => {
      if (event.key !== "z" || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      event.preventDefault();
      form.requestSubmit();
    });
  } else {
    undoButton.addEventListener("click", () => { if (onUndo) onUndo(); });
  }
  window.Faune = Object.assign(window.Faune || {}, {toast: show, toastHide: hide, typing});
})();

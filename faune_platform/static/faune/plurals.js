// Fills a sentence from the server with its numbers: a plain string, or the three forms of a sentence whose
// words change with a number ({count: name, zero, one, other}; see faune_platform/plurals.py).
window.FaunePlurals = (function () {
  function formFor(phrase, values) {
    if (phrase === null || typeof phrase !== "object") return phrase || "";
    const number = Number(values[phrase.count] || 0);
    return number === 0 ? phrase.zero : number === 1 ? phrase.one : phrase.other;
  }
  const fill = (phrase, values) => formFor(phrase, values).replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");
  return {fill};
})();

// What a page shows in its reader's language (the page's <html lang>): a taxon's name, the other language's name
// to put beside it, and a probability as that language writes it ('83 %' in French). Shared by the review desk and
// the image page's pre-label panel.
window.FauneReading = (function () {
  const language = document.documentElement.lang || "en";
  const french = language.startsWith("fr");
  // a taxon added without a French name keeps its English one
  const named = (taxon) => (french && taxon.name_fr) || taxon.name_en;
  const otherName = (taxon) => {
    const other = french ? taxon.name_en : taxon.name_fr;
    return other && other !== named(taxon) ? other : "";
  };
  const percent = new Intl.NumberFormat(language, {style: "percent", maximumFractionDigits: 0}).format;
  return {french, named, otherName, percent};
})();

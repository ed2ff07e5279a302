// Sortable tables and the class filter: plain DOM, no network, no dependency.
function cellValue(td) {
  var t = td.textContent.replace(/[*,%]|pp/g, "").trim();
  var v = parseFloat(t);
  return isNaN(v) ? t.toLowerCase() : v;
}
document.querySelectorAll("table.sortable thead th").forEach(function (th) {
  var col = th.cellIndex;
  th.tabIndex = 0;
  th.setAttribute("aria-sort", "none");
  function sort() {
    var table = th.closest("table"), body = table.tBodies[0];
    var asc = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach(function (o) { o.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a.cells[col]), y = cellValue(b.cells[col]);
      if (x === y) return 0;
      if (typeof x !== typeof y) return typeof x === "number" ? -1 : 1;
      return (x < y ? -1 : 1) * (asc ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  th.addEventListener("click", sort);
  th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
});
document.querySelectorAll("input.filter").forEach(function (input) {
  input.addEventListener("input", function () {
    var q = input.value.toLowerCase();
    Array.prototype.forEach.call(document.getElementById(input.dataset.table).tBodies[0].rows, function (r) {
      r.hidden = q !== "" && r.cells[0].textContent.toLowerCase().indexOf(q) < 0;
    });
  });
});
// Each chart's static SVG (what a reader without scripts sees) gives way to the interactive view;
// it comes back, under the error, when the chart cannot be drawn.
document.querySelectorAll("div.vega[data-spec]").forEach(function (el) {
  var spec = JSON.parse(document.getElementById(el.dataset.spec).textContent);
  var still = el.firstElementChild;
  if (still) el.removeChild(still);
  vegaEmbed(el, spec, {actions: false, renderer: "svg"}).catch(function (err) {
    var note = document.createElement("p");
    note.textContent = "This chart could not be drawn interactively: " + err;
    el.replaceChildren(note);
    if (still) el.appendChild(still);
  });
});
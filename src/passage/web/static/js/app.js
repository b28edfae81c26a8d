// Sortable tables and the page's widgets: everything works without it, it only adds comfort.
(function () {
  function cellValue(td) {
    var v = td.getAttribute("data-sort");
    if (v === null) v = td.textContent.trim();
    var n = parseFloat(v);
    return v !== "" && !isNaN(n) && /^-?[\d.]+$/.test(v) ? n : v.toLowerCase();
  }
  function sortBy(table, index, th) {
    var body = table.tBodies[0];
    var asc = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a.cells[index]), y = cellValue(b.cells[index]);
      if (x === y) return 0;
      return (x > y ? 1 : -1) * (asc ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.sortable").forEach(function (table) {
      table.querySelectorAll("thead th").forEach(function (th, i) {
        th.setAttribute("aria-sort", "none");
        th.addEventListener("click", function () { sortBy(table, i, th); });
      });
    });
    var map = document.getElementById("map");
    if (map && window.passageMap) {
      window.passageMap(map, {
        boundariesUrl: map.dataset.boundaries, valuesUrl: map.dataset.values, outlineUrl: map.dataset.outline,
        iso3Numeric: map.dataset.numeric, locale: map.dataset.locale, valueLabel: map.dataset.label,
        noDataLabel: map.dataset.nodata, linkTemplate: map.dataset.link
      });
    }
    var chart = document.getElementById("chart");
    if (chart && window.passageChart) {
      window.passageChart(chart, {
        dataUrl: chart.dataset.url, title: chart.dataset.title, locale: chart.dataset.locale,
        xField: chart.dataset.x, yField: chart.dataset.y, colorField: chart.dataset.color,
        noDataLabel: chart.dataset.nodata, xTitle: chart.dataset.xtitle, yTitle: chart.dataset.ytitle
      });
    }
  });
})();

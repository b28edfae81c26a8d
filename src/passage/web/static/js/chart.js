/* Passage indicator chart: a value over time as a Vega-Lite line chart, rendered as SVG.
 *
 * Needs the vendored vega, vega-lite and vega-embed loaded first. Usage:
 *   passageChart(element, {dataUrl, title, locale, xField, yField, colorField, xTitle, yTitle, noDataLabel})
 * or, without inline script, an element with data-passage-chart='{"dataUrl": ...}'.
 * dataUrl answers JSON rows: [{...}], or an object holding them under "data", "rows" or "values".
 * Numbers and dates follow the locale (built from Intl, so no locale files are needed).
 * When drawn, element.dataset.state is "ready"; on failure it is "error" and the element shows the message.
 */
(function () {
  "use strict";

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) {
        throw new Error(url + ": HTTP " + r.status);
      }
      return r.json();
    });
  }

  /* d3-format locale from Intl: decimal and group separators. */
  function numberLocale(locale) {
    var parts = new Intl.NumberFormat(locale).formatToParts(12345.6);
    var find = function (type, fallback) {
      var p = parts.filter(function (x) { return x.type === type; })[0];
      return p ? p.value : fallback;
    };
    return { decimal: find("decimal", "."), thousands: find("group", ""), grouping: [3], currency: ["", ""] };
  }

  /* d3-time-format locale from Intl: month and day names. */
  function timeLocale(locale) {
    var names = function (opts, count, make) {
      var f = new Intl.DateTimeFormat(locale, Object.assign({ timeZone: "UTC" }, opts));
      var out = [];
      for (var i = 0; i < count; i++) { out.push(f.format(make(i))); }
      return out;
    };
    var month = function (i) { return new Date(Date.UTC(2021, i, 15)); };
    var day = function (i) { return new Date(Date.UTC(2021, 0, 3 + i)); }; // 3 Jan 2021 was a Sunday
    return {
      dateTime: "%x, %X", date: "%x", time: "%X", periods: ["AM", "PM"],
      days: names({ weekday: "long" }, 7, day), shortDays: names({ weekday: "short" }, 7, day),
      months: names({ month: "long" }, 12, month), shortMonths: names({ month: "short" }, 12, month)
    };
  }

  function rowsOf(data) {
    if (Array.isArray(data)) { return data; }
    var keys = ["data", "rows", "values"];
    for (var i = 0; i < keys.length; i++) {
      if (data && Array.isArray(data[keys[i]])) { return data[keys[i]]; }
    }
    return [];
  }

  function fail(element, error) {
    element.textContent = "";
    var msg = document.createElement("p");
    msg.className = "passage-chart-error";
    msg.setAttribute("role", "alert");
    msg.textContent = (error && error.message) || String(error);
    element.appendChild(msg);
    element.dataset.state = "error";
  }

  function spec(rows, opts) {
    var encoding = {
      x: { field: opts.xField || "date", type: "temporal", title: opts.xTitle || null },
      y: { field: opts.yField || "value", type: "quantitative", title: opts.yTitle || null },
      tooltip: [
        { field: opts.xField || "date", type: "temporal", title: opts.xTitle || opts.xField || "date" },
        { field: opts.yField || "value", type: "quantitative", format: ",", title: opts.yTitle || opts.yField || "value" }
      ]
    };
    if (opts.colorField) {
      encoding.color = { field: opts.colorField, type: "nominal", title: null, legend: { orient: "bottom" } };
      encoding.tooltip.unshift({ field: opts.colorField, type: "nominal" });
    }
    return {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: opts.title || undefined,
      width: "container",
      height: opts.height || 260,
      autosize: { type: "fit-x", contains: "padding" },
      data: { values: rows },
      mark: { type: "line", point: true, strokeWidth: 2 },
      encoding: encoding,
      config: { font: "system-ui, sans-serif", axis: { labelFontSize: 11, titleFontSize: 12 },
        range: { category: ["#2c7fb8", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#a6761d"] } }
    };
  }

  function passageChart(element, options) {
    var opts = options || {};
    element.dataset.state = "loading";
    var locale = opts.locale || document.documentElement.lang || undefined;
    return fetchJson(opts.dataUrl).then(function (data) {
      var rows = rowsOf(data);
      element.textContent = "";
      if (!rows.length) {
        var empty = document.createElement("p");
        empty.className = "passage-chart-empty";
        empty.textContent = opts.noDataLabel || "No data";
        element.appendChild(empty);
        element.dataset.state = "ready";
        return null;
      }
      return vegaEmbed(element, spec(rows, opts), {
        renderer: "svg", actions: false,
        ast: true, defaultStyle: false, // no eval, no injected <style>: works under a strict Content-Security-Policy
        formatLocale: numberLocale(locale), timeFormatLocale: timeLocale(locale)
      }).then(function (result) {
        element.dataset.state = "ready";
        return result;
      });
    }).catch(function (error) {
      fail(element, error);
      return null;
    });
  }

  function autoInit(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var found = Array.prototype.slice.call(scope.querySelectorAll("[data-passage-chart]"));
    if (scope !== document && scope.matches && scope.matches("[data-passage-chart]")) { found.push(scope); }
    found.forEach(function (node) {
      if (node.dataset.state) { return; }
      try {
        passageChart(node, JSON.parse(node.getAttribute("data-passage-chart")));
      } catch (error) {
        fail(node, error);
      }
    });
  }

  window.passageChart = passageChart;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { autoInit(document); });
  } else {
    autoInit(document);
  }
  document.addEventListener("htmx:load", function (event) { autoInit(event.detail && event.detail.elt); });
})();

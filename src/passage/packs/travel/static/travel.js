/* Passage travel pages: the world map of statuses (date slider, source selector), a country's timeline
 * chart, and the points-of-entry map. Offline like map.js: vendored Leaflet, no tile layer, Natural Earth
 * outlines from the vendored world-atlas TopoJSON (ids are ISO 3166 numeric codes), Vega-Lite for the chart.
 *
 * The pages work without this script (server-rendered tables and forms); it only adds the maps, the chart
 * and moving through time without reloading. Each widget sets element.dataset.state to "ready" once drawn
 * ("error" with a message on failure) and element.dataset.features to the number of shapes or markers drawn.
 */
(function () {
  "use strict";

  var DAY_MS = 86400000;

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) { throw new Error(url + ": HTTP " + r.status); }
      return r.json();
    });
  }

  function data(element, name, fallback) {
    var raw = element.getAttribute("data-" + name);
    if (!raw) { return fallback; }
    try { return JSON.parse(raw); } catch (e) { return fallback; }
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function fail(element, map, error) {
    if (map) {
      try { map.remove(); } catch (ignored) { /* a half-built map: the message below replaces it anyway */ }
    }
    if (window.console) { console.error(error); }
    element.textContent = "";
    var msg = el("p", "passage-map-error", (error && error.message) || String(error));
    msg.setAttribute("role", "alert");
    element.appendChild(msg);
    element.dataset.state = "error";
  }

  function addDays(iso, n) {
    return new Date(Date.parse(iso + "T00:00:00Z") + n * DAY_MS).toISOString().slice(0, 10);
  }

  function daysBetween(a, b) {
    return Math.round((Date.parse(b + "T00:00:00Z") - Date.parse(a + "T00:00:00Z")) / DAY_MS);
  }

  function formatDay(iso, locale) {
    return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeZone: "UTC" }).format(new Date(iso + "T00:00:00Z"));
  }

  /* As map.js: a ring crossing the antimeridian is unwrapped onto one side, one circling a pole dropped. */
  function fixRing(ring) {
    var jumps = false;
    for (var i = 1; i < ring.length; i++) {
      if (Math.abs(ring[i][0] - ring[i - 1][0]) > 180) { jumps = true; break; }
    }
    if (!jumps) { return ring; }
    var sum = 0;
    ring.forEach(function (p) { sum += p[0]; });
    var east = sum / ring.length > 0;
    var out = ring.map(function (p) {
      if (east && p[0] < 0) { return [p[0] + 360, p[1]]; }
      if (!east && p[0] > 0) { return [p[0] - 360, p[1]]; }
      return p;
    });
    var min = Infinity, max = -Infinity;
    out.forEach(function (p) { min = Math.min(min, p[0]); max = Math.max(max, p[0]); });
    return max - min > 350 ? null : out;
  }

  function worldFeatures(topology) {
    var fc = topojson.feature(topology, topology.objects.countries);
    return fc.features.map(function (f) {
      var g = f.geometry;
      var polygons = !g ? [] : g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
      var kept = [];
      polygons.forEach(function (rings) {
        var outer = fixRing(rings[0]);
        if (outer) { kept.push([outer].concat(rings.slice(1).map(fixRing).filter(Boolean))); }
      });
      return kept.length ? { type: "Feature", id: f.id, properties: f.properties,
        geometry: { type: "MultiPolygon", coordinates: kept } } : null;
    }).filter(Boolean);
  }

  function legend(title, rows) {
    var control = L.control({ position: "bottomleft" });
    control.onAdd = function () {
      var box = el("div", "passage-map-legend");
      box.style.cssText = "background:rgba(255,255,255,.92);padding:6px 8px;border-radius:4px;" +
        "font:12px/1.4 system-ui,sans-serif;color:#222;box-shadow:0 1px 3px rgba(0,0,0,.3)";
      if (title) { box.appendChild(el("div", null, title)).style.fontWeight = "600"; }
      rows.forEach(function (row) {
        var line = el("div");
        var swatch = el("span");
        swatch.style.cssText = "display:inline-block;width:14px;height:11px;margin-right:6px;vertical-align:-1px;" +
          "border:1px solid #999;background:" + row.colour;
        line.appendChild(swatch);
        line.appendChild(document.createTextNode(row.label));
        box.appendChild(line);
      });
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    return control;
  }

  function baseMap(element) {
    element.textContent = "";
    var map = L.map(element, { zoomSnap: 0.25, zoomDelta: 0.5, worldCopyJump: false, attributionControl: true });
    map.attributionControl.setPrefix(false);
    map.setView([20, 10], 1.5); // a view before any layer: vector layers then share one ready renderer
    return map;
  }

  /* ---- world map of statuses ------------------------------------------------------------------------------ */

  function statusMap(element) {
    var labels = data(element, "labels", {});
    var colours = data(element, "colours", {});
    var numeric = data(element, "numeric", {});
    var names = data(element, "names", {});
    var locale = element.dataset.locale || document.documentElement.lang || undefined;
    var byNumeric = {};
    Object.keys(numeric).forEach(function (iso3) { byNumeric[Number(numeric[iso3])] = iso3; });
    var state = { day: element.dataset.day, source: element.dataset.source, statuses: {} };
    var cache = {};
    var map = null, layer = null;
    element.dataset.state = "loading";

    var slider = document.getElementById("travel-slider");
    var dateInput = document.getElementById("travel-date");
    var sourceSelect = document.getElementById("travel-source");
    var sourceName = document.getElementById("travel-source-name");
    var dayLabel = document.getElementById("travel-day");

    function statusesFor(day, source) {
      var key = day + "|" + source;
      if (!cache[key]) {
        var url = element.dataset.statusUrl + "?date=" + encodeURIComponent(day) + "&source=" + encodeURIComponent(source);
        cache[key] = fetchJson(url).then(function (body) {
          var out = {};
          (body.data || []).forEach(function (r) { out[r.iso3] = r; });
          return out;
        });
      }
      return cache[key];
    }

    /* Every outline is coloured: by its status, or as "no data" (grey) when the source gives none that day. */
    function style(feature) {
      var iso3 = byNumeric[Number(feature.id)];
      var row = iso3 && state.statuses[iso3];
      return { fillColor: colours[row ? row.status : "no_data"], fillOpacity: 0.9, color: "#ffffff", weight: 0.8 };
    }

    function describe(feature) {
      var iso3 = byNumeric[Number(feature.id)];
      var row = iso3 && state.statuses[iso3];
      var box = el("div", "passage-map-tooltip");
      box.appendChild(el("strong", null, (iso3 && names[iso3]) || (feature.properties && feature.properties.name) || iso3));
      box.appendChild(el("div", null, row ? (labels.statuses || {})[row.status] || row.status : (labels.statuses || {}).no_data));
      if (row && row.native_value) { box.appendChild(el("div", "muted", row.native_value)); }
      return box;
    }

    function updateTable(rows) {
      var table = document.getElementById("travel-status");
      if (!table) { return; }
      var body = table.tBodies[0];
      body.textContent = "";
      if (!rows.length) {
        var empty = el("tr");
        var cell = el("td", null, labels.empty || "");
        cell.colSpan = 5;
        empty.appendChild(cell);
        body.appendChild(empty);
      }
      rows.forEach(function (r) {
        var tr = el("tr");
        tr.dataset.iso3 = r.iso3;
        tr.dataset.status = r.status;
        var name = el("td");
        var a = el("a", null, names[r.iso3] || r.iso3);
        a.href = element.dataset.link.replace("{code}", encodeURIComponent(r.iso3));
        name.appendChild(a);
        tr.appendChild(name);
        tr.appendChild(el("td", null, r.iso3));
        var st = el("td");
        var sw = el("span", "swatch");
        sw.style.background = colours[r.status];
        st.appendChild(sw);
        st.appendChild(document.createTextNode((labels.statuses || {})[r.status] || r.status));
        tr.appendChild(st);
        tr.appendChild(el("td", null, r.native_value || ""));
        var n = el("td", "num", String((r.record_ids || []).length));
        tr.appendChild(n);
        body.appendChild(tr);
      });
    }

    function updateSummary(day) {
      var table = document.getElementById("travel-summary");
      if (!table || !element.dataset.summaryUrl) { return Promise.resolve(null); }
      return fetchJson(element.dataset.summaryUrl + "?date=" + encodeURIComponent(day)).then(function (body) {
        var fmt = new Intl.NumberFormat(locale);
        var counts = {};
        var known = {};
        (body.data || []).forEach(function (r) {
          if (r.status === "no_data") { return; }
          counts[r.source + "|" + r.status] = r.countries;
          known[r.source] = (known[r.source] || 0) + r.countries;
        });
        var universe = data(table, "universe", 0);  // how many countries the map and the table can show
        Array.prototype.forEach.call(table.querySelectorAll("td[data-source]"), function (td) {
          // "No data": every country of the map and the table that the source gives no status for.
          var n = td.dataset.status === "no_data" ? universe - (known[td.dataset.source] || 0)
            : counts[td.dataset.source + "|" + td.dataset.status] || 0;
          td.textContent = fmt.format(n);
        });
      });
    }

    /* The measures in force that day, per source and category. */
    function updateHeadline(day) {
      var table = document.getElementById("travel-headline");
      if (!table || !element.dataset.headlineUrl) { return Promise.resolve(null); }
      return fetchJson(element.dataset.headlineUrl + "?date=" + encodeURIComponent(day)).then(function (body) {
        var fmt = new Intl.NumberFormat(locale);
        var tbody = table.tBodies[0];
        tbody.textContent = "";
        function row(source, label, block) {
          var tr = el("tr");
          tr.appendChild(el("td", null, source));
          tr.appendChild(el("td", null, label));
          tr.appendChild(el("td", "num", fmt.format(block.measures)));
          tr.appendChild(el("td", "num", fmt.format(block.countries)));
          tbody.appendChild(tr);
        }
        var sources = Object.keys(body.measures || {}).sort();
        sources.forEach(function (s) {
          var m = body.measures[s];
          row(s, labels.all || "", m);
          Object.keys(m.categories || {}).forEach(function (c) {
            row("", (labels.categories || {})[c] || c, m.categories[c]);
          });
        });
        if (!sources.length) {
          var tr = el("tr");
          var td = el("td", null, labels.nomeasures || "");
          td.colSpan = 4;
          tr.appendChild(td);
          tbody.appendChild(tr);
        }
        var link = document.getElementById("travel-headline-records");
        if (link) { link.href = element.dataset.headlineUrl + "?date=" + encodeURIComponent(day) + "&records=true"; }
      });
    }

    function show(day, source) {
      state.day = day;
      state.source = source;
      element.dataset.state = "loading";
      return Promise.all([statusesFor(day, source), updateSummary(day), updateHeadline(day)]).then(function (loaded) {
        if (state.day !== day || state.source !== source) { return; } // a later choice won
        var statuses = loaded[0];
        state.statuses = statuses;
        var drawn = 0;
        var blank = 0;
        if (layer) {
          layer.setStyle(style);
          layer.eachLayer(function (l) {
            var row = state.statuses[byNumeric[Number(l.feature.id)]];
            if (row) { drawn++; }
            if (!row || row.status === "no_data") { blank++; }
          });
        }
        updateTable(Object.keys(statuses).sort().map(function (k) { return statuses[k]; }));
        if (sourceName) { sourceName.textContent = source; }
        if (dayLabel) { dayLabel.textContent = formatDay(day, locale); }
        var url = new URL(window.location.href);
        url.searchParams.set("date", day);
        url.searchParams.set("source", source);
        window.history.replaceState(null, "", url.toString());
        element.dataset.day = day;
        element.dataset.features = String(drawn);
        element.dataset.nodata = String(blank);
        element.dataset.state = "ready";
      }).catch(function (error) { fail(element, map, error); });
    }

    var timer = null;
    function later(day, source) {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(function () { show(day, source); }, 200);
    }

    Promise.all([fetchJson(element.dataset.outline), statusesFor(state.day, state.source)]).then(function (loaded) {
      map = baseMap(element);
      state.statuses = loaded[1];
      layer = L.geoJSON({ type: "FeatureCollection", features: worldFeatures(loaded[0]) }, {
        attribution: "Natural Earth",
        style: style,
        onEachFeature: function (f, l) {
          l.bindTooltip(function () { return describe(f); }, { sticky: true, direction: "top" });
          l.on("mouseover", function () { l.setStyle({ weight: 2, color: "#222" }); });
          l.on("mouseout", function () { layer.resetStyle(l); });
          l.on("click", function () {
            var iso3 = byNumeric[Number(f.id)];
            if (iso3 && state.statuses[iso3]) {
              window.location.href = element.dataset.link.replace("{code}", encodeURIComponent(iso3));
            }
          });
        }
      }).addTo(map);
      var rows = (labels.order || Object.keys(colours)).map(function (s) { return { colour: colours[s], label: (labels.statuses || {})[s] || s }; });
      legend(null, rows).addTo(map);
      return show(state.day, state.source);
    }).catch(function (error) { fail(element, map, error); });

    if (slider) {
      var first = slider.dataset.first;
      slider.addEventListener("input", function () {
        var day = addDays(first, Number(slider.value));
        slider.setAttribute("aria-valuetext", formatDay(day, locale));
        if (dateInput) { dateInput.value = day; }
        later(day, state.source);
      });
    }
    if (dateInput) {
      dateInput.addEventListener("change", function () {
        if (!/^\d{4}-\d{2}-\d{2}$/.test(dateInput.value)) { return; }
        if (slider) { slider.value = String(daysBetween(slider.dataset.first, dateInput.value)); }
        later(dateInput.value, state.source);
      });
    }
    if (sourceSelect) {
      sourceSelect.addEventListener("change", function () { show(state.day, sourceSelect.value); });
    }
  }

  /* ---- a country's timeline ------------------------------------------------------------------------------- */

  function timelineChart(element) {
    var labels = data(element, "labels", {});
    var colours = data(element, "colours", {});
    element.dataset.state = "loading";
    fetchJson(element.dataset.url).then(function (body) {
      var runs = (body.runs || []).map(function (r) {
        return { source: r.source, status: r.status, label: (labels.statuses || {})[r.status] || r.status,
          from: r.from, to: r.to, end: addDays(r.to, 1), native: r.native_value || "", days: r.days };
      });
      element.textContent = "";
      if (!runs.length) {
        element.appendChild(el("p", "passage-chart-empty", labels.empty || "No data"));
        element.dataset.state = "ready";
        element.dataset.features = "0";
        return null;
      }
      var statuses = (labels.order || Object.keys(colours));
      var names = statuses.map(function (s) { return (labels.statuses || {})[s] || s; }); // legend in the page's language
      var spec = {
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        width: "container", height: { step: 34 }, autosize: { type: "fit-x", contains: "padding" },
        data: { values: runs },
        mark: { type: "bar", cornerRadius: 1 },
        encoding: {
          y: { field: "source", type: "nominal", title: null },
          x: { field: "from", type: "temporal", title: null },
          x2: { field: "end" },
          color: { field: "label", type: "nominal", title: null,
            scale: { domain: names, range: statuses.map(function (s) { return colours[s]; }) },
            legend: { orient: "bottom", columns: element.clientWidth < 560 ? 2 : statuses.length } }, // wraps on a phone
          tooltip: [
            { field: "source", title: labels.source || "source" },
            { field: "label", title: labels.status || "status" },
            { field: "from", type: "temporal", title: labels.from || "from" },
            { field: "to", type: "temporal", title: labels.to || "to" },
            { field: "native", title: labels.native || "native value" }
          ]
        },
        config: { font: "system-ui, sans-serif", axis: { labelFontSize: 11 } }
      };
      return vegaEmbed(element, spec, { renderer: "svg", actions: false, ast: true, defaultStyle: false })
        .then(function (result) {
          element.dataset.features = String(runs.length);
          element.dataset.state = "ready";
          return result;
      });
    }).catch(function (error) { fail(element, null, error); });
  }

  /* ---- points of entry ---------------------------------------------------------------------------------- */

  function poeMap(element) {
    var labels = data(element, "labels", {});
    var colours = data(element, "colours", {});
    var map = null;
    element.dataset.state = "loading";
    Promise.all([fetchJson(element.dataset.outline), fetchJson(element.dataset.url)]).then(function (loaded) {
      map = baseMap(element);
      L.geoJSON({ type: "FeatureCollection", features: worldFeatures(loaded[0]) }, {
        interactive: false, attribution: "Natural Earth",
        style: function () { return { color: "#b8b8b8", weight: 0.6, fillColor: "#f7f7f4", fillOpacity: 1 }; }
      }).addTo(map);
      var markers = [];
      (loaded[1].data || []).forEach(function (p) {
        if (typeof p.latitude !== "number" || typeof p.longitude !== "number") { return; }
        var m = L.circleMarker([p.latitude, p.longitude], {
          radius: p.poe_type === "airport" ? 7 : 5, weight: 1, color: "#333",
          fillColor: colours[p.operational_status] || "#fff", fillOpacity: 0.95
        });
        var box = el("div", "passage-map-tooltip");
        box.appendChild(el("strong", null, p.name || p.code));
        box.appendChild(el("div", null, p.code + (p.iata_code ? " · " + p.iata_code : "")));
        box.appendChild(el("div", null, (labels.types || {})[p.poe_type] || p.poe_type || ""));
        box.appendChild(el("div", null, (labels.statuses || {})[p.operational_status] || p.operational_status));
        if (p.assessment_date) { box.appendChild(el("div", "muted", (labels.assessed || "") + " " + p.assessment_date)); }
        m.bindTooltip(box, { direction: "top" });
        if (p.assessment_record_id && element.dataset.link) {
          m.on("click", function () {
            window.location.href = element.dataset.link.replace("{id}", encodeURIComponent(p.assessment_record_id));
          });
        }
        m.addTo(map);
        markers.push(m);
      });
      var rows = (labels.order || Object.keys(colours)).map(function (s) { return { colour: colours[s], label: (labels.statuses || {})[s] || s }; });
      legend(null, rows).addTo(map);
      if (markers.length) {
        map.fitBounds(L.featureGroup(markers).getBounds(), { padding: [20, 20], maxZoom: 7 });
      }
      element.dataset.features = String(markers.length);
      element.dataset.state = "ready";
    }).catch(function (error) { fail(element, map, error); });
  }

  function init() {
    var world = document.getElementById("travel-map");
    if (world && window.L && window.topojson) { statusMap(world); }
    var chart = document.getElementById("travel-timeline");
    if (chart && window.vegaEmbed) { timelineChart(chart); }
    var poe = document.getElementById("poe-map");
    if (poe && window.L && window.topojson) { poeMap(poe); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

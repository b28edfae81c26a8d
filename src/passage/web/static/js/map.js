/* Passage country map: admin areas coloured by an indicator, drawn offline with Leaflet.
 *
 * No tile layer is loaded (the portal works without internet): the background is plain,
 * the world's countries come from the vendored Natural Earth TopoJSON (world-atlas), and the
 * admin areas from Passage's boundaries endpoint. Values are split into 5 quantile classes
 * of a colour-blind-safe sequential palette (ColorBrewer YlGnBu); areas without a value are grey.
 *
 * Values join areas on P-codes compared within the country by their digits, so a value for Chad's
 * `TD07` colours the area `TCD07`. When the endpoint answers with points (`kind: "points"`: a level
 * without shapes), each area is a circle at its parent's centre, its area proportional to the value,
 * over the parent level's outlines (`contextUrl`, or the element's data-context).
 *
 * Needs leaflet.js and topojson-client loaded first. Usage:
 *   passageMap(element, {boundariesUrl, valuesUrl, outlineUrl, iso3Numeric, locale,
 *                        valueLabel, noDataLabel, linkTemplate, attribution})
 * or, without inline script, an element with data-passage-map='{"boundariesUrl": ...}'.
 * When drawn, element.dataset.state is "ready", element.dataset.features the number of areas
 * coloured, .nodata the number without a value and .kind "shapes" or "points"; each drawn path
 * carries data-code, and element.passageLayers holds the Leaflet map and layer. On failure the
 * state is "error" and the element shows the message.
 */
(function () {
  "use strict";

  var PALETTE = ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"];
  var NO_DATA = "#d4d4d4";
  var CLASSES = PALETTE.length;

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) {
        throw new Error(url + ": HTTP " + r.status);
      }
      return r.json();
    });
  }

  /* Quantile thresholds (as d3.quantile, R-7) between CLASSES classes, without repeats. */
  function quantileBreaks(sorted) {
    var breaks = [];
    for (var k = 1; k < CLASSES; k++) {
      var h = (sorted.length - 1) * (k / CLASSES);
      var lo = Math.floor(h);
      var v = sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (h - lo);
      if (v > sorted[0] && (breaks.length === 0 || v > breaks[breaks.length - 1])) {
        breaks.push(v);
      }
    }
    return breaks;
  }

  function classOf(value, breaks) {
    var c = 0;
    while (c < breaks.length && value >= breaks[c]) {
      c++;
    }
    return c;
  }

  /* Spread the classes actually present over the whole palette, lightest to darkest. */
  function colours(classCount) {
    if (classCount === 1) {
      return [PALETTE[2]];
    }
    var out = [];
    for (var i = 0; i < classCount; i++) {
      out.push(PALETTE[Math.round((i * (CLASSES - 1)) / (classCount - 1))]);
    }
    return out;
  }

  /* A ring crossing the antimeridian (a jump of over 180 degrees) draws a stripe across the map:
   * unwrap it onto one side; drop it when it circles a pole (Antarctica). */
  function fixRing(ring) {
    var jumps = false;
    for (var i = 1; i < ring.length; i++) {
      if (Math.abs(ring[i][0] - ring[i - 1][0]) > 180) {
        jumps = true;
        break;
      }
    }
    if (!jumps) {
      return ring;
    }
    var sum = 0;
    ring.forEach(function (p) { sum += p[0]; });
    var east = sum / ring.length > 0;
    var out = ring.map(function (p) {
      if (east && p[0] < 0) { return [p[0] + 360, p[1]]; }
      if (!east && p[0] > 0) { return [p[0] - 360, p[1]]; }
      return p;
    });
    var min = Infinity;
    var max = -Infinity;
    out.forEach(function (p) { min = Math.min(min, p[0]); max = Math.max(max, p[0]); });
    return max - min > 350 ? null : out;
  }

  function fixGeometry(geometry) {
    if (!geometry) {
      return null;
    }
    var polygons = geometry.type === "Polygon" ? [geometry.coordinates]
      : geometry.type === "MultiPolygon" ? geometry.coordinates : null;
    if (!polygons) {
      return geometry;
    }
    var kept = [];
    polygons.forEach(function (rings) {
      var outer = fixRing(rings[0]);
      if (outer) {
        kept.push([outer].concat(rings.slice(1).map(fixRing).filter(Boolean)));
      }
    });
    return kept.length ? { type: "MultiPolygon", coordinates: kept } : null;
  }

  function worldFeatures(topology) {
    var fc = topojson.feature(topology, topology.objects.countries);
    return fc.features.map(function (f) {
      return { type: "Feature", id: f.id, properties: f.properties, geometry: fixGeometry(f.geometry) };
    }).filter(function (f) { return f.geometry; });
  }

  /* A P-code's key within one country and level: its digits (TD07 and TCD07 are the same area). */
  function codeKey(code) {
    if (code === undefined || code === null) { return null; }
    var text = String(code).trim().toUpperCase();
    var m = /^[A-Z]{2,3}(\d+)$/.exec(text);
    return m ? m[1] : text;
  }

  function sameNumericId(a, b) {
    return a !== undefined && a !== null && b !== undefined && b !== null && Number(a) === Number(b);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function legendControl(title, rows, noData) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      var box = el("div", "passage-map-legend");
      box.style.cssText = "background:rgba(255,255,255,.92);padding:6px 8px;border-radius:4px;" +
        "font:12px/1.4 system-ui,sans-serif;color:#222;box-shadow:0 1px 3px rgba(0,0,0,.3)";
      if (title) {
        var head = el("div", "passage-map-legend-title", title);
        head.style.fontWeight = "600";
        head.style.marginBottom = "3px";
        box.appendChild(head);
      }
      rows.concat(noData ? [noData] : []).forEach(function (row) {
        var line = el("div", "passage-map-legend-row");
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

  function tooltip(name, code, valueText) {
    var box = el("div", "passage-map-tooltip");
    box.appendChild(el("strong", null, name || code));
    box.appendChild(el("div", null, code));
    box.appendChild(el("div", null, valueText));
    return box;
  }

  function fail(element, map, error) {
    if (map) { map.remove(); }
    element.textContent = "";
    var msg = el("p", "passage-map-error", (error && error.message) || String(error));
    msg.setAttribute("role", "alert");
    element.appendChild(msg);
    element.dataset.state = "error";
  }

  function passageMap(element, options) {
    var opts = options || {};
    var map = null;
    element.dataset.state = "loading";
    var contextUrl = opts.contextUrl || element.dataset.context;
    var requests = [fetchJson(opts.boundariesUrl), fetchJson(opts.valuesUrl),
      opts.outlineUrl ? fetchJson(opts.outlineUrl) : Promise.resolve(null),
      contextUrl ? fetchJson(contextUrl) : Promise.resolve(null)];
    return Promise.all(requests).then(function (loaded) {
      var boundaries = loaded[0];
      var data = loaded[1] || {};
      var topology = loaded[2];
      var context = loaded[3];
      var locale = opts.locale || document.documentElement.lang || undefined;
      var noDataLabel = opts.noDataLabel || "No data";

      var values = {};
      (data.values || []).forEach(function (v) {
        if (v && v.code !== undefined && typeof v.value === "number" && isFinite(v.value)) {
          values[codeKey(v.code)] = v.value;
        }
      });
      function valueOf(f) { return values[codeKey(f.properties && f.properties.code)]; }
      var features = (boundaries && boundaries.features) || [];
      var points = boundaries && boundaries.kind === "points";
      var shown = features.map(valueOf)
        .filter(function (v) { return v !== undefined; })
        .sort(function (a, b) { return a - b; });
      var integral = shown.every(function (v) { return Math.round(v) === v; });
      var fmt = new Intl.NumberFormat(locale, { maximumFractionDigits: integral ? 0 : 1 });
      var breaks = shown.length ? quantileBreaks(shown) : [];
      var fills = colours(breaks.length + 1);

      element.textContent = "";
      if (!element.style.background) {
        element.style.background = "#eaf1f6";
      }
      map = L.map(element, { zoomSnap: 0.25, zoomDelta: 0.5, worldCopyJump: false, attributionControl: true });
      map.attributionControl.setPrefix(false);

      var outline = null;
      if (topology) {
        var world = worldFeatures(topology);
        L.geoJSON({ type: "FeatureCollection", features: world }, {
          interactive: false,
          attribution: "Natural Earth",
          style: function (f) {
            var own = sameNumericId(f.id, opts.iso3Numeric);
            return { color: own ? "#555" : "#b8b8b8", weight: own ? 1.2 : 0.6, fillColor: "#f7f7f4", fillOpacity: 1 };
          }
        }).addTo(map);
        world.forEach(function (f) {
          if (sameNumericId(f.id, opts.iso3Numeric)) { outline = L.geoJSON(f); }
        });
      }

      var parents = null;
      if (context && context.features && context.features.length) {
        parents = L.geoJSON(context, {
          interactive: false,
          style: function () { return { color: "#888", weight: 0.8, fillColor: "#fbfbf8", fillOpacity: 1 }; }
        }).addTo(map);
      }

      var coloured = 0;
      var nodata = 0;
      var biggest = shown.length ? Math.max(Math.abs(shown[0]), Math.abs(shown[shown.length - 1])) : 0;
      function radius(v) {
        if (v === undefined || !biggest) { return 3; }
        return Math.max(3, 24 * Math.sqrt(Math.abs(v) / biggest));
      }
      /* Circles: only areas with a value (the others are counted as "no data" and listed in the page's
       * table), the biggest first, so every smaller one stays on top and can be pointed at. */
      var drawn = features;
      if (points) {
        drawn = features.filter(function (f) { return valueOf(f) !== undefined; })
          .sort(function (a, b) { return valueOf(b) - valueOf(a); });
        nodata = features.length - drawn.length;
      }
      var areas = L.geoJSON({ type: "FeatureCollection", features: drawn }, {
        attribution: opts.attribution || "",
        pointToLayer: function (f, latlng) {
          return L.circleMarker(latlng, { radius: radius(valueOf(f)), className: "passage-map-circle" });
        },
        style: function (f) {
          var v = valueOf(f);
          var unjoined = !f.properties || !f.properties.code;
          if (points) {
            return { fillColor: v === undefined ? NO_DATA : fills[classOf(v, breaks)], fillOpacity: 0.85,
              color: "#333", weight: 0.8 };
          }
          return { fillColor: v === undefined ? NO_DATA : fills[classOf(v, breaks)], fillOpacity: unjoined ? 0.5 : 0.9,
            color: "#ffffff", weight: 0.8, dashArray: unjoined ? "3 3" : null };
        },
        onEachFeature: function (f, layer) {
          var p = f.properties || {};
          var v = valueOf(f);
          if (v !== undefined) { coloured++; } else if (!points) { nodata++; }
          layer.on("add", function () { // the drawn path says which area it is (for tests and styling)
            var node = layer.getElement && layer.getElement();
            if (node) { node.setAttribute("data-code", p.code || p.key || ""); }
          });
          layer.bindTooltip(tooltip(p.name, p.code || p.key, v === undefined ? noDataLabel : fmt.format(v)),
            { sticky: !points, direction: "top" });
          layer.on("mouseover", function () { layer.setStyle({ weight: 2.2, color: "#222" }); if (!points) { layer.bringToFront(); } });
          layer.on("mouseout", function () { areas.resetStyle(layer); });
          if (opts.linkTemplate && p.code) {
            layer.on("click", function () {
              window.location.href = opts.linkTemplate.replace("{code}", encodeURIComponent(p.code));
            });
          }
        }
      }).addTo(map);

      var rows = [];
      for (var c = 0; c <= breaks.length && shown.length; c++) {
        var lower = c === 0 ? shown[0] : breaks[c - 1];
        var upper = c === breaks.length ? shown[shown.length - 1] : breaks[c];
        rows.push({ colour: fills[c], label: lower === upper ? fmt.format(lower) : fmt.format(lower) + " – " + fmt.format(upper) });
      }
      var title = opts.valueLabel || [data.title, data.unit ? "(" + data.unit + ")" : ""].join(" ").trim();
      var missing = nodata ? { colour: NO_DATA, label: noDataLabel + " (" + fmt.format(nodata) + ")" } : null;
      if (rows.length || missing) {
        legendControl(title, rows, missing).addTo(map);
      }

      var bounds = parents ? parents.getBounds() : features.length ? areas.getBounds() : outline ? outline.getBounds() : null;
      if (bounds && bounds.isValid()) {
        map.fitBounds(bounds, { padding: [12, 12] });
      } else {
        map.setView([15, 20], 2);
      }
      element.passageLayers = { map: map, areas: areas };
      element.dataset.features = String(coloured);
      element.dataset.nodata = String(nodata);
      element.dataset.kind = points ? "points" : "shapes";
      element.dataset.state = "ready";
      return { map: map, areas: areas, coloured: coloured, breaks: breaks };
    }).catch(function (error) {
      fail(element, map, error);
      return null;
    });
  }

  function autoInit(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var found = Array.prototype.slice.call(scope.querySelectorAll("[data-passage-map]"));
    if (scope !== document && scope.matches && scope.matches("[data-passage-map]")) { found.push(scope); }
    found.forEach(function (node) {
      if (node.dataset.state) { return; }
      try {
        passageMap(node, JSON.parse(node.getAttribute("data-passage-map")));
      } catch (error) {
        fail(node, null, error);
      }
    });
  }

  window.passageMap = passageMap;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { autoInit(document); });
  } else {
    autoInit(document);
  }
  document.addEventListener("htmx:load", function (event) { autoInit(event.detail && event.detail.elt); });
})();

// fieldsync web UI: maps (Leaflet, vendored) on pages that have one. Everything else works
// without this file. No request leaves the server unless a tile URL is configured.
(function () {
  "use strict";
  var COLOURS = ["#b2182b", "#ef8a62", "#2166ac", "#1b7837", "#762a83", "#555555"];
  var ORDER = ["suspected", "confirmed", "in_progress", "cleared", "handed_over", "closed"];

  function colourOf(status, seen) {
    if (!(status in seen)) {
      var known = ORDER.indexOf(status);
      seen[status] = COLOURS[known >= 0 ? known % COLOURS.length : Object.keys(seen).length % COLOURS.length];
    }
    return seen[status];
  }

  function baseMap(element) {
    var map = L.map(element, { attributionControl: true, zoomControl: true });
    var tiles = element.getAttribute("data-tiles");
    if (tiles) { L.tileLayer(tiles, { maxZoom: 19 }).addTo(map); }
    return map;
  }

  function legend(seen) {
    var list = document.getElementById("legend");
    if (!list) { return; }
    Object.keys(seen).forEach(function (status) {
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "swatch-" + COLOURS.indexOf(seen[status]);
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(status || "—"));
      list.appendChild(item);
    });
  }

  // The gazetteer's admin boundaries, under the records (their own pane), from this server:
  // provinces drawn bolder than districts, each province named at its centre.
  function boundaries(map, element, view) {
    var url = element.getAttribute("data-boundaries");
    if (!url) { return; }
    map.createPane("boundaries").style.zIndex = 350;
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var layer = L.geoJSON(data, {
          pane: "boundaries",
          interactive: false,
          style: function (feature) {
            var level = (feature.properties || {}).level || 1;
            return {
              className: "gazetteer-boundary gazetteer-level-" + level,
              color: "#555555", weight: level === 1 ? 1.5 : 0.6,
              fillColor: "#f4f1e8", fillOpacity: level === 1 ? 0.25 : 0, dashArray: level === 1 ? null : "2 3"
            };
          },
          onEachFeature: function (feature, item) {
            var props = feature.properties || {};
            if ((props.level || 1) === 1 && props.name) {
              item.bindTooltip(props.name, { permanent: true, direction: "center", className: "area-label", pane: "boundaries" });
            }
          }
        }).addTo(map);
        view.boundaries = layer.getBounds();
        if (!view.records && view.boundaries.isValid()) { map.fitBounds(view.boundaries); }
        element.setAttribute("data-boundaries-drawn", String(data.features ? data.features.length : 0));
      });
  }

  function recordsMap(element) {
    var map = baseMap(element);
    var recordUrl = element.getAttribute("data-record-url");
    var seen = {};
    var view = { records: false, boundaries: null };
    boundaries(map, element, view);
    fetch(element.getAttribute("data-geojson"), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var layer = L.geoJSON(data, {
          style: function (feature) {
            var colour = colourOf((feature.properties || {}).status || "", seen);
            return { color: colour, weight: 2, fillOpacity: 0.35 };
          },
          pointToLayer: function (feature, latlng) {
            var colour = colourOf((feature.properties || {}).status || "", seen);
            return L.circleMarker(latlng, { radius: 7, color: colour, fillOpacity: 0.8 });
          },
          onEachFeature: function (feature, item) {
            var props = feature.properties || {};
            var link = document.createElement("a");
            link.href = recordUrl.replace("UUID", encodeURIComponent(feature.id || props.__id || ""));
            link.textContent = (props.label || feature.id || "") + (props.status ? " (" + props.status + ")" : "");
            item.bindPopup(link);
          }
        }).addTo(map);
        var bounds = layer.getBounds();
        if (bounds.isValid()) {
          view.records = true;
          map.fitBounds(bounds, { maxZoom: 15 });
        } else if (view.boundaries && view.boundaries.isValid()) {
          map.fitBounds(view.boundaries);
        } else { map.setView([18, 103], 6); }
        legend(seen);
        element.setAttribute("data-features", String(data.features ? data.features.length : 0));
      });
  }

  function shapesMap(element) {
    var map = baseMap(element);
    var shapes = JSON.parse(element.getAttribute("data-shapes") || "[]");
    var group = L.featureGroup();
    shapes.forEach(function (shape) {
      var item;
      if (shape.type === "geopoint") {
        item = L.circleMarker(shape.points[0], { radius: 7, color: "#b2182b" });
      } else if (shape.type === "geoshape") {
        item = L.polygon(shape.points, { color: "#2166ac" });
      } else {
        item = L.polyline(shape.points, { color: "#2166ac" });
      }
      item.bindTooltip(shape.name);
      group.addLayer(item);
    });
    group.addTo(map);
    map.fitBounds(group.getBounds(), { maxZoom: 16 });
    element.setAttribute("data-features", String(shapes.length));
  }

  function start() {
    var element = document.getElementById("map");
    if (!element || typeof L === "undefined") { return; }
    if (element.hasAttribute("data-geojson")) { recordsMap(element); } else { shapesMap(element); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();

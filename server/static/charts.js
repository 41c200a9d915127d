// swarmpulse charts: a sparkline, a banded state timeline, line and bar charts, all SVG.
// Every label is set with textContent; nothing here parses HTML.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  return node;
}

function finite(values) {
  return values.filter((v) => typeof v === "number" && Number.isFinite(v));
}

// A small line of values (nulls are gaps); an accessible name says what it shows.
function sparkline(values, label, width = 96, height = 20) {
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "spark",
                           role: "img", "aria-label": label });
  const known = finite(values);
  if (known.length === 0) return root;
  const max = Math.max(...known), min = Math.min(...known);
  const span = max - min || 1;
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  let d = "";
  values.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) return;
    const x = (i * step).toFixed(1);
    const y = (height - 2 - ((v - min) / span) * (height - 4)).toFixed(1);
    d += (d === "" || values[i - 1] == null ? "M" : "L") + x + " " + y + " ";
  });
  if (known.length === 1) {
    const i = values.findIndex((v) => typeof v === "number");
    root.append(svg("circle", { cx: i * step, cy: height / 2, r: 2, class: "spark-dot" }));
  } else {
    root.append(svg("path", { d, class: "spark-line" }));
  }
  return root;
}

// Coloured bands of states over [start, end]: bands = [{from, to, state}]. Each band has a
// title with its state in words, and the legend below names every colour.
function timeline(bands, start, end, width = 800, height = 28) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "timeline",
                           preserveAspectRatio: "none", role: "img",
                           "aria-label": "health states over the range" });
  const span = end - start || 1;
  for (const band of bands) {
    const x = ((band.from - start) / span) * width;
    const w = Math.max(1, ((band.to - band.from) / span) * width);
    const rect = svg("rect", { x: x.toFixed(2), y: 0, width: w.toFixed(2), height,
                               class: "band band-" + band.state, "data-state": band.state });
    const title = svg("title");
    title.textContent = band.state + " from " + new Date(band.from * 1000).toLocaleString() +
      " to " + new Date(band.to * 1000).toLocaleString();
    rect.append(title);
    root.append(rect);
  }
  return root;
}

// Lines over slices: series = [{name, values, cls}], x labels from times (epoch s).
function lineChart(series, times, label, width = 800, height = 160) {
  const pad = { l: 48, r: 8, t: 8, b: 20 };
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
                           "aria-label": label });
  const all = finite(series.flatMap((s) => s.values));
  const max = all.length ? Math.max(...all) : 1;
  const n = times.length;
  const xOf = (i) => pad.l + (n > 1 ? (i / (n - 1)) * (width - pad.l - pad.r) : 0);
  const yOf = (v) => pad.t + (1 - v / (max || 1)) * (height - pad.t - pad.b);
  for (const f of [0, 0.5, 1]) {
    const y = yOf(max * f);
    root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: y, y2: y, class: "grid" }));
    const t = svg("text", { x: pad.l - 4, y: y + 4, class: "axis", "text-anchor": "end" });
    t.textContent = formatNumber(max * f);
    root.append(t);
  }
  for (const s of series) {
    let d = "";
    s.values.forEach((v, i) => {
      if (typeof v !== "number" || !Number.isFinite(v)) return;
      d += (d === "" || s.values[i - 1] == null ? "M" : "L") + xOf(i).toFixed(1) + " " +
        yOf(v).toFixed(1) + " ";
    });
    root.append(svg("path", { d, class: "series " + s.cls }));
    s.values.forEach((v, i) => {  // a point with no neighbour draws as a dot
      const lone = (i === 0 || s.values[i - 1] == null) && (i === n - 1 || s.values[i + 1] == null);
      if (lone && typeof v === "number" && Number.isFinite(v)) {
        root.append(svg("circle", { cx: xOf(i), cy: yOf(v), r: 3, class: "dot " + s.cls }));
      }
    });
  }
  if (n > 0) {
    for (const i of [0, n - 1]) {
      const t = svg("text", { x: xOf(i), y: height - 4, class: "axis",
                              "text-anchor": i === 0 ? "start" : "end" });
      t.textContent = new Date(times[i] * 1000).toLocaleTimeString();
      root.append(t);
    }
  }
  return root;
}

// Bars of counts, one per slice.
function barChart(values, label, width = 800, height = 80, cls = "bar") {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart bars",
                           preserveAspectRatio: "none", role: "img", "aria-label": label });
  const max = Math.max(1, ...finite(values));
  const w = width / Math.max(1, values.length);
  values.forEach((v, i) => {
    if (!v) return;
    const h = (v / max) * (height - 2);
    root.append(svg("rect", { x: (i * w).toFixed(2), y: (height - h).toFixed(2),
                              width: Math.max(1, w - 1).toFixed(2), height: h.toFixed(2),
                              class: cls }));
  });
  return root;
}

function formatNumber(v) {
  if (v == null || !Number.isFinite(v)) return "–";
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(0) + "k";
  if (Math.abs(v) >= 100) return v.toFixed(0);
  return v.toFixed(1);
}

window.charts = { sparkline, timeline, lineChart, barChart, formatNumber };

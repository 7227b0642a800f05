/* Recoup dashboard: draws every <canvas data-chart-url> with Chart.js from the JSON at that URL, and draws
   again whenever htmx swaps in new canvases (the filter bar, the collections toggle, history restore).
   Loaded with <script src defer>; no inline script anywhere, so a strict CSP can come later.

   Each endpoint answers {labels, datasets: [{key, label, data, links}], currency, places}: the amounts are
   Decimal strings, which Chart.js parses as numbers. A click on a bar or a point opens the URL at the same
   place in its dataset's `links`: the customers or invoices behind that figure. */
(function () {
  "use strict";

  var AGING_COLORS = ["#2f9e6b", "#a3c75a", "#e8c547", "#ec9a3c", "#e06a3b", "#c0392b"];
  var SERIES_COLORS = {
    dso: "#1f6feb",
    bpdso: "#7aa7ef",
    cei: "#0a7a46",
    collected: "#234b74",
    overdue: "#b42318",
  };
  var INK = "#3e4c5e";
  var GRID = "#e9edf1";
  var drawn = new WeakMap(); // canvas → the URL it was drawn (or is being drawn) from

  function formatter(places) {
    return new Intl.NumberFormat("en-US", { minimumFractionDigits: places, maximumFractionDigits: places });
  }
  var whole = formatter(0);

  function moneyTicks() {
    return { color: INK, callback: function (value) { return whole.format(value); } };
  }

  function base(payload, extra) {
    var money = formatter(payload.places);
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12, color: INK } },
        tooltip: {
          callbacks: {
            label: function (item) {
              var unit = item.dataset.unit;
              if (item.raw === null || item.raw === undefined) return item.dataset.label + ": n/a";
              if (unit === "days") return item.dataset.label + ": " + Number(item.raw).toFixed(2) + " days";
              if (unit === "percent") return item.dataset.label + ": " + Number(item.raw).toFixed(2) + "%";
              return item.dataset.label + ": " + money.format(Number(item.raw)) + " " + payload.currency;
            },
          },
        },
      },
      onClick: function (event, elements, chart) {
        var url = linkAt(chart, elements);
        if (url) window.location.assign(url);
      },
      onHover: function (event, elements, chart) {
        chart.canvas.style.cursor = linkAt(chart, elements) ? "pointer" : "default";
      },
    };
    return Object.assign(options, extra || {});
  }

  function withoutLegend(options) {
    options.plugins.legend = { display: false };
    return options;
  }

  function linkAt(chart, elements) {
    if (!elements || !elements.length) return null;
    var dataset = chart.data.datasets[elements[0].datasetIndex];
    return dataset && dataset.links ? dataset.links[elements[0].index] : null;
  }

  function datasets(payload, style) {
    return payload.datasets.map(function (d, i) {
      return Object.assign({ label: d.label, data: d.data, links: d.links, unit: d.unit, key: d.key }, style(d, i));
    });
  }

  var BUILDERS = {
    aging: function (payload) {
      var money = formatter(payload.places);
      var options = base(payload, {
        scales: {
          x: { stacked: true, ticks: { color: INK }, grid: { display: false } },
          y: { stacked: true, ticks: moneyTicks(), grid: { color: GRID } },
        },
      });
      options.plugins.tooltip.callbacks.footer = function (items) {
        if (!items.length) return "";
        return "Total: " + money.format(Number(payload.totals[items[0].dataIndex])) + " " + payload.currency;
      };
      return {
        type: "bar",
        data: {
          labels: payload.labels,
          datasets: datasets(payload, function (d, i) {
            return { backgroundColor: AGING_COLORS[i % AGING_COLORS.length], stack: "ar", maxBarThickness: 46 };
          }),
        },
        options: options,
      };
    },
    kpis: function (payload) {
      return {
        type: "line",
        data: {
          labels: payload.labels,
          datasets: datasets(payload, function (d) {
            var color = SERIES_COLORS[d.key] || INK;
            return {
              borderColor: color,
              backgroundColor: color,
              yAxisID: d.unit === "percent" ? "percent" : "days",
              borderDash: d.key === "bpdso" ? [5, 4] : [],
              pointRadius: 3,
              pointHoverRadius: 5,
              pointHitRadius: 10,
              tension: 0,
              spanGaps: false,
            };
          }),
        },
        options: base(payload, {
          interaction: { mode: "nearest", intersect: true },
          scales: {
            x: { ticks: { color: INK }, grid: { display: false } },
            days: {
              position: "left",
              beginAtZero: true,
              title: { display: true, text: "days", color: INK },
              ticks: { color: INK },
              grid: { color: GRID },
            },
            percent: {
              position: "right",
              beginAtZero: true,
              suggestedMax: 100,
              title: { display: true, text: "CEI %", color: INK },
              ticks: { color: INK },
              grid: { display: false },
            },
          },
        }),
      };
    },
    collections: function (payload) {
      return {
        type: "bar",
        data: {
          labels: payload.labels,
          datasets: datasets(payload, function () {
            return { backgroundColor: SERIES_COLORS.collected, maxBarThickness: 40 };
          }),
        },
        options: withoutLegend(base(payload, {
          scales: {
            x: { ticks: { color: INK, autoSkip: true, maxRotation: 0 }, grid: { display: false } },
            y: { beginAtZero: true, ticks: moneyTicks(), grid: { color: GRID } },
          },
        })),
      };
    },
    outlook: function (payload) {
      var STYLE = {
        collected: { type: "bar", backgroundColor: SERIES_COLORS.collected, maxBarThickness: 30, order: 2 },
        forecast_then: { type: "line", borderColor: "#e8a33c", backgroundColor: "#e8a33c", pointRadius: 3, order: 1 },
        expected: { type: "bar", backgroundColor: "#9fb8d6", maxBarThickness: 30, order: 2 },
        low: { type: "line", borderColor: "#7aa7ef", borderDash: [4, 3], pointRadius: 0, order: 1 },
        high: { type: "line", borderColor: "#7aa7ef", borderDash: [4, 3], pointRadius: 0, fill: "-1",
                backgroundColor: "rgba(122, 167, 239, 0.12)", order: 1 },
      };
      return {
        type: "bar",
        data: {
          labels: payload.labels,
          datasets: datasets(payload, function (d) {
            return Object.assign({ spanGaps: false, tension: 0 }, STYLE[d.key] || {});
          }),
        },
        options: base(payload, {
          scales: {
            x: { ticks: { color: INK, autoSkip: true, maxRotation: 0 }, grid: { display: false } },
            y: { beginAtZero: true, ticks: moneyTicks(), grid: { color: GRID } },
          },
        }),
      };
    },
    collectors: function (payload) {
      return {
        type: "bar",
        data: {
          labels: payload.labels,
          datasets: datasets(payload, function () {
            return { backgroundColor: SERIES_COLORS.overdue, maxBarThickness: 28 };
          }),
        },
        options: withoutLegend(base(payload, {
          indexAxis: "y",
          scales: {
            x: { beginAtZero: true, ticks: moneyTicks(), grid: { color: GRID } },
            y: { ticks: { color: INK }, grid: { display: false } },
          },
        })),
      };
    },
  };

  function status(canvas, text) {
    var box = canvas.parentElement;
    var note = box.querySelector(".chart-status");
    if (!text) {
      if (note) note.remove();
      return;
    }
    if (!note) {
      note = document.createElement("p");
      note.className = "chart-status";
      box.appendChild(note);
    }
    note.textContent = text;
  }

  function isEmpty(payload) {
    return !payload.datasets.some(function (d) {
      return d.data.some(function (v) { return v !== null && Number(v) !== 0; });
    });
  }

  function describe(body) {
    if (!body || typeof body !== "object") return "The chart could not be loaded.";
    return Object.keys(body).map(function (key) {
      var value = body[key];
      return Array.isArray(value) ? value.join(" ") : String(value);
    }).join(" ");
  }

  function destroy(canvas) {
    var chart = window.Chart && window.Chart.getChart(canvas);
    if (chart) chart.destroy();
  }

  function draw(canvas) {
    var url = canvas.getAttribute("data-chart-url");
    var build = BUILDERS[canvas.getAttribute("data-chart")];
    if (!url || !build || !window.Chart || drawn.get(canvas) === url) return;
    drawn.set(canvas, url);
    destroy(canvas);
    canvas.setAttribute("data-state", "loading");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(describe(body));
          return body;
        });
      })
      .then(function (payload) {
        if (!canvas.isConnected || drawn.get(canvas) !== url) return;
        destroy(canvas);
        new window.Chart(canvas, build(payload));
        status(canvas, isEmpty(payload) ? "Nothing to show for these filters." : "");
        canvas.setAttribute("data-state", "drawn");
      })
      .catch(function (error) {
        if (!canvas.isConnected) return;
        drawn.delete(canvas);
        status(canvas, error.message || "The chart could not be loaded.");
        canvas.setAttribute("data-state", "error");
      });
  }

  function drawWithin(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches("canvas[data-chart-url]")) draw(root);
    root.querySelectorAll("canvas[data-chart-url]").forEach(draw);
  }

  function destroyWithin(root) {
    if (!root || !root.querySelectorAll) return;
    root.querySelectorAll("canvas[data-chart-url]").forEach(function (canvas) {
      destroy(canvas);
      drawn.delete(canvas);
    });
  }

  function setDefaults() {
    if (!window.Chart) return;
    window.Chart.defaults.font.family =
      'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
    window.Chart.defaults.font.size = 12;
    window.Chart.defaults.color = INK;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.shouldSwap) destroyWithin(event.detail.target);
  });
  document.addEventListener("htmx:afterSwap", function (event) { drawWithin(event.detail.target); });
  document.addEventListener("htmx:load", function (event) { drawWithin(event.detail.elt); });
  document.addEventListener("htmx:historyRestore", function () { drawWithin(document); });

  function start() {
    setDefaults();
    drawWithin(document);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

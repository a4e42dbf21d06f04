/* The dashboard's charts, drawn with the vendored Chart.js from data the page embeds with
   json_script. Every chart has a table with the same figures beside it. */
(function () {
  "use strict";

  var PALETTE = [
    "#2f6fab", "#e07b39", "#3a9a5b", "#c0392b", "#8e6bb8",
    "#8c6d46", "#d16ba5", "#6f7c85", "#b5a033", "#2aa0a6",
  ];

  function read(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function numbers(values) {
    // Figures travel as exact decimal strings; the chart only needs them to draw.
    return values.map(function (v) { return v === null ? null : Number(v); });
  }

  function colour(i) { return PALETTE[i % PALETTE.length]; }

  function draw(canvasId, config) {
    var canvas = document.getElementById(canvasId);
    if (!canvas) return;
    config.options = Object.assign(
      { responsive: true, maintainAspectRatio: false, animation: false },
      config.options || {}
    );
    new window.Chart(canvas, config);
    canvas.dataset.drawn = "true";
  }

  function compliance() {
    var data = read("compliance-data");
    if (!data) return;
    draw("compliance-chart", {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (set, i) {
          return { label: set.label, data: numbers(set.data), backgroundColor: colour(i) };
        }),
      },
      options: {
        scales: { y: { min: 0, max: 100, title: { display: true, text: data.text.axis } } },
        plugins: {
          tooltip: {
            callbacks: {
              label: function (item) {
                var target = data.datasets[item.datasetIndex].target;
                return item.dataset.label + ": " + item.formattedValue + "%" +
                  (target === null ? "" : " (" + data.text.target + " " + target + "%)");
              },
            },
          },
        },
      },
    });
  }

  function allowances() {
    var data = read("allowances-data");
    if (!data) return;
    draw("allowances-chart", {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (set, i) {
          return { label: set.label, data: numbers(set.data), backgroundColor: colour(i) };
        }),
      },
      options: {
        scales: {
          x: { stacked: true },
          y: { stacked: true, title: { display: true, text: data.text.axis } },
        },
      },
    });
  }

  function beds() {
    var data = read("beds-data");
    if (!data) return;
    draw("beds-chart", {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: data.text.occupied, data: data.occupied, backgroundColor: colour(0), stack: "beds" },
          { label: data.text.free, data: data.free, backgroundColor: "#c8d6e5", stack: "beds" },
          { label: data.text.waiting, data: data.waiting, backgroundColor: colour(1), stack: "waiting" },
        ],
      },
      options: { indexAxis: "y", scales: { x: { stacked: true }, y: { stacked: true } } },
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var print = document.querySelector("[data-print]");
    if (print) print.addEventListener("click", function () { window.print(); });
    if (!window.Chart) return;
    compliance();
    allowances();
    beds();
  });
})();

// The dashboard's charts. The figures are in the page's json_script element #dashboard-data (the
// Content-Security-Policy allows no inline script); the same figures are the tables below them.
(function () {
  "use strict";

  var STATUS_COLOURS = {
    delivered: "#2e7d32",
    awaiting_receipt: "#5b8fc7",
    requesting: "#b0bec5",
    send_failed: "#c62828",
    processing_failed: "#ef8f00"
  };
  var REASON_COLOURS = [
    "#c62828", "#ef8f00", "#6a1b9a", "#00838f", "#8d6e63", "#ad1457", "#558b2f", "#283593",
    "#f9a825", "#4e342e", "#00695c", "#9e9d24"
  ];

  function draw() {
    var source = document.getElementById("dashboard-data");
    if (!source || typeof Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);

    var statusCanvas = document.getElementById("status-chart");
    if (statusCanvas) {
      var datasets = data.statuses.map(function (status) {
        return {
          type: "bar",
          label: status.label,
          data: status.counts,
          backgroundColor: STATUS_COLOURS[status.key] || "#999",
          stack: "messages",
          yAxisID: "messages",
          order: 2
        };
      });
      datasets.push({
        type: "line",
        label: data.rate.label,
        data: data.rate.values,
        borderColor: "#1a237e",
        backgroundColor: "#1a237e",
        yAxisID: "rate",
        spanGaps: true,
        order: 1
      });
      new Chart(statusCanvas, {
        data: { labels: data.days, datasets: datasets },
        options: {
          maintainAspectRatio: false,
          interaction: { mode: "index", intersect: false },
          scales: {
            x: { stacked: true },
            messages: {
              type: "linear", position: "left", stacked: true, beginAtZero: true,
              title: { display: true, text: data.axes.messages }
            },
            rate: {
              type: "linear", position: "right", min: 0, max: 100,
              grid: { drawOnChartArea: false },
              title: { display: true, text: data.axes.rate }
            }
          }
        }
      });
    }

    var reasonCanvas = document.getElementById("reason-chart");
    if (reasonCanvas && data.reasons.length) {
      new Chart(reasonCanvas, {
        type: "bar",
        data: {
          labels: data.days,
          datasets: data.reasons.map(function (reason, index) {
            return {
              label: reason.label,
              data: reason.counts,
              backgroundColor: REASON_COLOURS[index % REASON_COLOURS.length]
            };
          })
        },
        options: {
          maintainAspectRatio: false,
          interaction: { mode: "index", intersect: false },
          scales: {
            x: { stacked: true },
            y: { stacked: true, beginAtZero: true, title: { display: true, text: data.axes.messages } }
          }
        }
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();

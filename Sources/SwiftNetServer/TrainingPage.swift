// TrainingPage.swift: the page `cnn train --serve` shows at "/", as one string.
//
// Self-contained like PredictPage.  It opens /v1/events (Server-Sent
// Events), which replays the run's history and then streams each epoch, so a
// page opened mid-run shows every epoch so far.  It draws two curves on
// canvases (validation accuracy, and training cost, per epoch), a bar for
// the current epoch's progress, and a table of the epochs.  When the run
// ends it says so and closes the stream (EventSource would otherwise
// reconnect and replay).  `window.epochEvents` counts the epoch frames
// received, for the tests.

enum TrainingPage {
    static let html = PageHead.html(title: "SwiftNet: training", maximumWidth: "900px") + #"""
  h1 { font-size: 1.3rem; margin: 0 0 4px; }
  #run { color: #555; font-size: 0.85rem; overflow-wrap: anywhere; }
  #state { font-weight: 600; margin: 8px 0; }
  .progress { background: #ddd; height: 12px; border-radius: 3px; overflow: hidden; }
  #bar { background: #2f6fb5; height: 100%; width: 0; }
  .charts { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
  .chart { flex: 1 1 300px; }
  canvas { width: 100%; aspect-ratio: 3 / 2; background: #fff; border: 1px solid #333; border-radius: 4px; }
  table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 0.9rem; }
  td, th { padding: 2px 10px; text-align: right; border-bottom: 1px solid #ccc; }
</style>
</head>
<body>
<h1>Training</h1>
<p id="run">connecting...</p>
<p id="state">waiting for the first epoch</p>
<div class="progress"><div id="bar"></div></div>
<div class="charts">
  <div class="chart"><div>Validation accuracy, %</div><canvas id="accuracy" width="600" height="400"></canvas></div>
  <div class="chart"><div>Training cost</div><canvas id="cost" width="600" height="400"></canvas></div>
</div>
<table><thead><tr><th>epoch</th><th>validation</th><th>test</th><th>cost</th><th>seconds</th></tr></thead>
<tbody id="epochs"></tbody></table>
<script>
"use strict";
const epochs = [];
let plannedEpochs = 0;
window.epochEvents = 0;
window.runFinished = false;

function plot(id, values, color) {
  const canvas = document.getElementById(id), context = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, left = 60, bottom = 30, top = 12, right = 12;
  context.clearRect(0, 0, w, h);
  context.font = "16px system-ui, sans-serif"; context.fillStyle = "#333"; context.strokeStyle = "#999";
  context.strokeRect(left, top, w - left - right, h - top - bottom);
  if (values.length === 0) return;
  let low = Math.min(...values), high = Math.max(...values);
  if (high - low < 1e-9) { low -= 0.5; high += 0.5; }
  const span = Math.max(plannedEpochs, values.length) - 1 || 1;
  const x = i => left + (w - left - right) * i / span, y = v => top + (h - top - bottom) * (high - v) / (high - low);
  context.fillText(high.toFixed(2), 4, top + 12); context.fillText(low.toFixed(2), 4, h - bottom);
  context.fillText("epoch", w / 2, h - 6);
  context.strokeStyle = color; context.lineWidth = 3; context.beginPath();
  values.forEach((v, i) => { if (i === 0) context.moveTo(x(i), y(v)); else context.lineTo(x(i), y(v)); });
  context.stroke();
  context.fillStyle = color;
  values.forEach((v, i) => { context.beginPath(); context.arc(x(i), y(v), 4, 0, 2 * Math.PI); context.fill(); });
}

function redraw() {
  plot("accuracy", epochs.map(e => 100 * e.validationAccuracy), "#2f6fb5");
  plot("cost", epochs.map(e => e.trainingCost), "#d0621b");
}

const events = new EventSource("/v1/events");
events.addEventListener("run", event => {
  const run = JSON.parse(event.data);
  plannedEpochs = Number(run.epochs);
  document.getElementById("run").textContent = run.network + ", " + run.epochs + " epochs";
});
events.addEventListener("epoch", event => {
  const point = JSON.parse(event.data);
  if (epochs.some(e => e.epoch === point.epoch)) return;
  epochs.push(point); window.epochEvents += 1;
  const row = document.createElement("tr");
  for (const text of [point.epoch, (100 * point.validationAccuracy).toFixed(2) + "%",
                      point.testAccuracy == null ? "" : (100 * point.testAccuracy).toFixed(2) + "%",
                      point.trainingCost.toFixed(4), point.trainingSeconds.toFixed(1)]) {
    const cell = document.createElement("td"); cell.textContent = text; row.appendChild(cell);
  }
  document.getElementById("epochs").appendChild(row);
  document.getElementById("state").textContent = "epoch " + point.epoch + ": validation accuracy "
    + (100 * point.validationAccuracy).toFixed(2) + "%";
  redraw();
});
events.addEventListener("progress", event => {
  const step = JSON.parse(event.data);
  document.getElementById("bar").style.width = (100 * step.miniBatchesDone / step.miniBatchesPerEpoch).toFixed(1) + "%";
});
events.addEventListener("finished", event => {
  const end = JSON.parse(event.data);
  window.runFinished = true; events.close();
  document.getElementById("bar").style.width = "100%";
  document.getElementById("state").textContent = "finished" + (end.bestValidationAccuracy == null ? ""
    : ": best validation accuracy " + (100 * end.bestValidationAccuracy).toFixed(2) + "%");
});
events.onerror = () => {
  if (!window.runFinished) document.getElementById("state").textContent = "the run's server is gone";
};
redraw();
</script>
</body>
</html>
"""#
}

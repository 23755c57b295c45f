// PredictPage.swift: the page `cnn serve` shows at "/", as one string.
//
// A single self-contained HTML file (no CDN, no build step), compiled into
// the binary so that `cnn serve` needs no resource folder beside it.  The
// page asks /v1/model what it serves, then lets a person draw on a square
// canvas with a mouse, a pen or a finger (pointer events).  While they draw,
// at most ten times a second and never two requests at once, it sends the
// canvas as JSON pixels (140x140 gray, dark ink on white, which the
// server's MNIST preprocessing inverts, crops and centres) to /v1/predict,
// and shows the top class and its probability in big type, a bar for every
// class, and the 28x28 view the network saw, as `cnn predict --show`
// draws it.  A PNG or PGM chosen or dropped on the page is sent as its own
// bytes, so it gets `cnn predict`'s answer.  `window.lastAnswer` and
// `data-requests` on <body> let the browser tests read what it shows.

enum PredictPage {
    static let html = PageHead.html(title: "SwiftNet: draw a digit", maximumWidth: "760px") + #"""
  h1 { font-size: 1.3rem; margin: 0 0 4px; }
  #model { color: #555; font-size: 0.85rem; margin: 0 0 12px; overflow-wrap: anywhere; }
  main { display: flex; flex-wrap: wrap; gap: 16px; }
  .pad { flex: 1 1 280px; max-width: 360px; }
  #pad { width: 100%; aspect-ratio: 1; background: #fff; border: 2px solid #333; border-radius: 6px;
         touch-action: none; cursor: crosshair; display: block; }
  .buttons { display: flex; gap: 8px; margin-top: 8px; align-items: center; flex-wrap: wrap; }
  button, label.file { font: inherit; padding: 6px 14px; border: 1px solid #333; border-radius: 4px;
                       background: #fff; cursor: pointer; }
  #file { display: none; }
  .answer { flex: 1 1 240px; }
  #top { display: flex; align-items: baseline; gap: 12px; min-height: 4.5rem; }
  #top-class { font-size: 4rem; font-weight: 700; line-height: 1; }
  #top-prob { font-size: 1.4rem; color: #444; }
  #bars { display: grid; grid-template-columns: auto 1fr 3.5em; gap: 3px 8px; align-items: center;
          font-size: 0.9rem; margin: 8px 0; }
  .bar { background: #ddd; height: 14px; border-radius: 3px; overflow: hidden; }
  .bar > div { background: #2f6fb5; height: 100%; width: 0; }
  .bar.best > div { background: #d0621b; }
  .num { text-align: right; font-variant-numeric: tabular-nums; }
  #view { width: 112px; height: 112px; image-rendering: pixelated; background: #000; border: 1px solid #333; }
  #status { color: #a11; font-size: 0.9rem; min-height: 1.2em; }
  .drop { outline: 3px dashed #2f6fb5; }
</style>
</head>
<body data-requests="0">
<h1>Draw a digit</h1>
<p id="model">loading the model...</p>
<main>
  <div class="pad">
    <canvas id="pad" width="280" height="280" aria-label="drawing pad"></canvas>
    <div class="buttons">
      <button id="clear" type="button">Clear</button>
      <label class="file" for="file">Open a PNG...</label>
      <input id="file" type="file" accept="image/png,image/x-portable-graymap,.png,.pgm">
    </div>
  </div>
  <div class="answer">
    <div id="top"><span id="top-class">?</span><span id="top-prob">draw to start</span></div>
    <div id="bars"></div>
    <div>What the network saw:</div>
    <canvas id="view" width="28" height="28"></canvas>
    <p id="status"></p>
  </div>
</main>
<script>
"use strict";
const pad = document.getElementById("pad"), ink = pad.getContext("2d");
const statusLine = document.getElementById("status");
let drawing = false, dirty = false, inFlight = false, lastSent = 0, requests = 0, last = null;
window.lastAnswer = null;

function clearPad() {
  ink.fillStyle = "#fff"; ink.fillRect(0, 0, pad.width, pad.height);
  document.getElementById("top-class").textContent = "?";
  document.getElementById("top-prob").textContent = "draw to start";
  dirty = false;
}
clearPad();

function point(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width, (event.clientY - box.top) * pad.height / box.height];
}
pad.addEventListener("pointerdown", event => {
  drawing = true; last = point(event); pad.setPointerCapture(event.pointerId);
  ink.fillStyle = "#000"; ink.beginPath(); ink.arc(last[0], last[1], 9, 0, 2 * Math.PI); ink.fill();
  dirty = true; event.preventDefault();
});
pad.addEventListener("pointermove", event => {
  if (!drawing) return;
  const next = point(event);
  ink.strokeStyle = "#000"; ink.lineWidth = 18; ink.lineCap = "round"; ink.lineJoin = "round";
  ink.beginPath(); ink.moveTo(last[0], last[1]); ink.lineTo(next[0], next[1]); ink.stroke();
  last = next; dirty = true; event.preventDefault();
});
for (const end of ["pointerup", "pointercancel", "pointerleave"]) {
  pad.addEventListener(end, () => { drawing = false; });
}
document.getElementById("clear").addEventListener("click", clearPad);

// At most ten requests a second, one at a time; the last stroke is always sent.
setInterval(() => {
  if (dirty && !inFlight && performance.now() - lastSent >= 100) { dirty = false; sendCanvas(); }
}, 25);

function sendCanvas() {
  const side = 140, small = document.createElement("canvas");
  small.width = side; small.height = side;
  const context = small.getContext("2d");
  context.drawImage(pad, 0, 0, side, side);
  const rgba = context.getImageData(0, 0, side, side).data, pixels = new Array(side * side);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rgba[4 * i];
  send(JSON.stringify({ pixels: pixels, width: side, height: side }), "application/json");
}

async function send(body, type) {
  inFlight = true; lastSent = performance.now();
  try {
    const response = await fetch("/v1/predict", { method: "POST", headers: { "Content-Type": type }, body: body });
    const answer = await response.json();
    if (!response.ok) { statusLine.textContent = answer.error ? answer.error.message : response.statusText; return; }
    statusLine.textContent = ""; show(answer);
  } catch (error) {
    statusLine.textContent = "the server did not answer: " + error;
  } finally {
    inFlight = false; requests += 1; document.body.dataset.requests = String(requests);
  }
}

function show(answer) {
  window.lastAnswer = answer;
  const best = answer.predictions[0];
  document.getElementById("top-class").textContent = best.name;
  document.getElementById("top-prob").textContent = (100 * best.probability).toFixed(1) + "%";
  const byLabel = answer.predictions.slice().sort((a, b) => a.label - b.label), bars = document.getElementById("bars");
  bars.replaceChildren();
  for (const entry of byLabel) {
    const name = document.createElement("span"); name.textContent = entry.name;
    const bar = document.createElement("div"); bar.className = "bar" + (entry.label === best.label ? " best" : "");
    const fill = document.createElement("div"); fill.style.width = (100 * entry.probability).toFixed(1) + "%";
    bar.appendChild(fill);
    const number = document.createElement("span"); number.className = "num";
    number.textContent = (100 * entry.probability).toFixed(1) + "%";
    bars.append(name, bar, number);
  }
  drawView(answer.view);
}

// The view as planes of bytes: gray for one channel, RGB for three.
function drawView(view) {
  const canvas = document.getElementById("view"), context = canvas.getContext("2d");
  canvas.width = view.width; canvas.height = view.height;
  const image = context.createImageData(view.width, view.height), plane = view.width * view.height;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) image.data[4 * i + c] = view.pixels[(view.channels === 3 ? c : 0) * plane + i];
    image.data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

async function sendFile(file) {
  if (!file) return;
  const bytes = await file.arrayBuffer();
  send(bytes, file.name.toLowerCase().endsWith(".pgm") ? "image/x-portable-graymap" : "application/octet-stream");
}
document.getElementById("file").addEventListener("change", event => sendFile(event.target.files[0]));
document.addEventListener("dragover", event => { event.preventDefault(); pad.classList.add("drop"); });
document.addEventListener("dragleave", () => pad.classList.remove("drop"));
document.addEventListener("drop", event => {
  event.preventDefault(); pad.classList.remove("drop"); sendFile(event.dataTransfer.files[0]);
});

fetch("/v1/model").then(response => response.json()).then(model => {
  document.getElementById("model").textContent = model.name + ": " + model.spec + " (" + model.classNames.length
    + " classes, SwiftNet " + model.swiftNetVersion + ")";
  if (model.namedClasses) document.querySelector("h1").textContent = "Draw or open a picture";
}).catch(() => { document.getElementById("model").textContent = "the server did not describe its model"; });
</script>
</body>
</html>
"""#
}

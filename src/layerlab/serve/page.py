"""``GET /``: one self-contained page to try the model by hand. It reads ``/metadata`` to know what the
model takes, offers a file picker (images, WAV, CSV) or a text box (sentences; table rows as CSV with a
header), posts to ``/predict`` and shows the classes with their probabilities (or the values); for a VAE or
GAN run, a button draws images from ``/generate``; a speech recognition run's WAV files go to ``/transcribe``."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LayerLab model</title>
<style>
 body { font: 15px/1.45 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222 }
 h1 { font-size: 1.3rem } .meta { color: #666 } textarea { width: 100%; min-height: 6rem }
 #drop { border: 2px dashed #aaa; border-radius: 8px; padding: 1.5rem; text-align: center; margin: 1rem 0 }
 #drop.over { border-color: #36c; background: #eef4ff } table { border-collapse: collapse; margin-top: 1rem }
 td { padding: .2rem .6rem } .bar { background: #36c; height: .8rem; border-radius: 3px }
 .error { color: #b00 } button { font-size: 1rem; padding: .3rem 1rem }
</style></head>
<body>
<h1 id="title">LayerLab model</h1><p class="meta" id="meta"></p>
<div id="files" hidden><div id="drop">Drop <span id="what">files</span> here, or
 <input type="file" id="picker" multiple></div></div>
<div id="text" hidden><textarea id="box"></textarea><br><button id="send">Predict</button></div>
<div id="generate" hidden><button id="draw">Generate</button></div>
<div id="result" role="status"></div>
<script>
const $ = (id) => document.getElementById(id);
let meta = null;
function show(answer, ok) {
  const out = $("result"); out.innerHTML = "";
  if (!ok) { out.innerHTML = '<p class="error"></p>';
    out.firstChild.textContent = (answer.error.field || "") + ": " + answer.error.message; return; }
  for (const t of answer.transcripts || []) {
    const p = document.createElement("pre"); p.className = "text"; p.textContent = t.text; out.appendChild(p); }
  for (const p of answer.predictions || []) {
    const t = document.createElement("table"); t.className = "prediction";
    if (p.top) { for (const [name, prob] of p.top) { const r = t.insertRow();
        r.insertCell().textContent = name; r.insertCell().textContent = (100 * prob).toFixed(1) + " %";
        r.insertCell().innerHTML = '<div class="bar" style="width:' + (200 * prob) + 'px"></div>'; } }
    else { t.insertRow().insertCell().textContent = JSON.stringify(p.value ?? p).slice(0, 400); }
    out.appendChild(t);
  }
}
async function post(init) {
  const response = await fetch(meta.input.endpoint === "/transcribe" ? "/transcribe" : "/predict", { method: "POST", ...init });
  show(await response.json(), response.ok);
}
function sendFiles(files) {
  const form = new FormData(); for (const f of files) form.append("files", f, f.name);
  post({ body: form });
}
async function sendDecoded(text) {
  const generating = meta.input.endpoint === "/generate";
  const body = generating ? { prompt: text, tokens: 200 } : { sentences: text.split("\\n").filter((s) => s.trim()) };
  const response = await fetch(meta.input.endpoint, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify(body) });
  const answer = await response.json();
  if (!response.ok) { show(answer, false); return; }
  const out = $("result"); out.innerHTML = "";
  for (const line of generating ? [answer.text] : answer.translations) {
    const p = document.createElement("pre"); p.className = "text"; p.textContent = line; out.appendChild(p); }
}
function sendText() {
  const text = $("box").value;
  if (meta.input.endpoint) { sendDecoded(text); }
  else if (meta.input.kind === "text") {
    const sentences = text.split("\\n").filter((s) => s.trim());
    post({ headers: { "content-type": "application/json" }, body: JSON.stringify({ sentences }) });
  } else { sendFiles([new File([text], "rows.csv", { type: "text/csv" })]); }
}
fetch("/metadata").then((r) => r.json()).then((m) => {
  meta = m; $("title").textContent = m.recipe + " (" + m.task + ")";
  $("meta").textContent = "input " + JSON.stringify(m.input.shape) + "; " + (m.classes ? m.classes.length + " classes" : "");
  const kind = m.input.kind;
  if (kind === "image" || kind === "audio" || kind === "series") {
    $("files").hidden = false; $("what").textContent = { image: "images", audio: "WAV files", series: "a CSV file" }[kind];
  } else if (kind === "text" || kind === "table") {
    $("text").hidden = false;
    $("box").placeholder = meta.input.endpoint === "/generate" ? "a prompt to continue"
      : kind === "text" ? "one sentence per line"
      : "CSV with a header: " + m.input.columns.map((c) => c.name).join(",");
  } else { $("generate").hidden = false; }
});
$("picker").addEventListener("change", (e) => sendFiles(e.target.files));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); sendFiles(e.dataTransfer.files); });
$("send").addEventListener("click", sendText);
$("draw").addEventListener("click", async () => {
  const response = await fetch("/generate", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ n: 8, seed: Math.floor(Math.random() * 1e9) }) });
  const answer = await response.json();
  if (!response.ok) { show(answer, false); return; }
  $("result").innerHTML = answer.images.map((b) => '<img width="84" alt="generated" src="data:image/png;base64,' + b + '">').join(" ");
});
</script></body></html>
"""

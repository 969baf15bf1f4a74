// The page: sends the post (and the image, as a multipart file) to POST /v1/entities and shows
// the answer row. Every text from the server or the user goes into the page as text (textContent),
// never as markup.
"use strict";

const colors = JSON.parse(document.body.dataset.labelColors || "{}");
const $ = (id) => document.getElementById(id);
let imageUrl = null;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function headers() {
  const key = $("api-key").value.trim();
  return key ? { "X-API-Key": key } : {};
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// displaCy's "ent" markup: the text between entities as text nodes, each entity a <mark>
// with its label, plus the confidence the tagger gave it.
function renderEntities(text, entities) {
  const box = $("entities");
  box.replaceChildren();
  let offset = 0;
  for (const ent of [...entities].sort((a, b) => a.start_char - b.start_char)) {
    if (ent.start_char < offset) continue;
    box.append(document.createTextNode(text.slice(offset, ent.start_char)));
    const mark = el("mark", "entity");
    mark.style.setProperty("background", colors[ent.label] || "#ddd");
    mark.dataset.label = ent.label;
    mark.append(document.createTextNode(text.slice(ent.start_char, ent.end_char)));
    mark.append(el("span", "entity-label", ent.label));
    if (typeof ent.confidence === "number") {
      mark.append(el("span", "entity-confidence", ent.confidence.toFixed(2)));
      mark.title = `${ent.label}, confidence ${ent.confidence.toFixed(3)}`;
    }
    box.append(mark);
    offset = ent.end_char;
  }
  box.append(document.createTextNode(text.slice(offset)));
  if (!entities.length) box.append(el("div", "ita-empty", "no entities found"));
}

function chips(values) {
  const dd = el("dd");
  if (!values.length) dd.append(el("span", "ita-empty", "none"));
  for (const value of values) dd.append(el("span", "ita-chip", value));
  return dd;
}

function renderContext(context) {
  const dl = $("context");
  dl.replaceChildren();
  if (!context) {
    dl.append(el("dd", "ita-empty", "no image: the post was read alone"));
    return;
  }
  const objects = (context.objects || []).map((o) => `${o.label} ×${o.count} (${Number(o.score).toFixed(2)})`);
  dl.append(el("dt", "", "Objects"), chips(objects));
  dl.append(el("dt", "", "OCR"), chips(context.ocr || []));
  dl.append(el("dt", "", "Caption"), chips(context.caption ? [context.caption] : []));
  for (const kind of ["description", "knowledge"]) {
    if (context[kind]) dl.append(el("dt", "", kind), el("dd", "", context[kind]));
  }
}

function renderImage(file) {
  const box = $("image-box");
  box.replaceChildren();
  if (imageUrl) URL.revokeObjectURL(imageUrl);
  imageUrl = null;
  if (!file) {
    box.append(el("div", "ita-no-image", "no image"));
    return;
  }
  imageUrl = URL.createObjectURL(file);
  const img = el("img");
  img.id = "post-image";
  img.alt = "the post's image";
  img.src = imageUrl;
  box.append(img);
}

async function submitPost(event) {
  event.preventDefault();
  const text = $("text").value;
  const file = $("image").files[0] || null;
  const body = new FormData();
  body.append("text", text);
  if (file) body.append("image", file, file.name);
  $("submit").disabled = true;
  setStatus("Reading the post…");
  try {
    const response = await fetch("/v1/entities", { method: "POST", body, headers: headers() });
    const answer = await response.json().catch(() => ({ detail: response.statusText }));
    if (!response.ok) {
      if (response.status === 401) $("key-box").open = true;
      setStatus(`Error ${response.status}: ${answer.detail || answer.error || "unknown"}`, true);
      return;
    }
    renderImage(file);
    renderEntities(text, answer.entities);
    renderContext(answer.visual_context);
    $("view").textContent = answer.view.replace("_", " ");
    $("result").hidden = false;
    setStatus(`${answer.entities.length} entit${answer.entities.length === 1 ? "y" : "ies"}`);
  } catch (err) {
    setStatus(`The server did not answer: ${err.message}`, true);
  } finally {
    $("submit").disabled = false;
  }
}

function showChosen() {
  const file = $("image").files[0];
  $("drop-hint").textContent = file ? `${file.name} (${Math.round(file.size / 1024)} KB)` : "Drop an image here, or click to choose one";
}

async function loadModelInfo() {
  try {
    const response = await fetch("/v1/model", { headers: headers() });
    if (!response.ok) return;
    const info = await response.json();
    const kinds = Object.keys((info.taggers[0] || {}).trained_context_kinds || {});
    $("model-info").textContent =
      `${info.name} ${info.version || ""} · labels ${info.labels.join(", ")}` +
      (kinds.length ? ` · trained with ${kinds.join(", ")}` : "");
  } catch (err) {
    // the page works without it
  }
}

function setUp() {
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    if (e.dataTransfer.files.length) {
      $("image").files = e.dataTransfer.files;
      showChosen();
    }
  });
  $("image").addEventListener("change", showChosen);
  $("post-form").addEventListener("submit", submitPost);
  $("clear").addEventListener("click", () => {
    $("post-form").reset();
    showChosen();
    $("result").hidden = true;
    setStatus("");
  });
  loadModelInfo();
}

setUp();

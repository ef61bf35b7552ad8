// dom.js: small helpers that build the page with textContent only. Nothing here parses HTML,
// so whatever a server field holds (audit details, subjects, names) stays inert text.

export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`page is missing #${id}`);
  return node;
}

// el creates an element; props.text becomes textContent, props.className and props.attrs
// are set as given; children are nodes or strings (strings become text nodes).
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
  for (const [k, v] of Object.entries(props.attrs || {})) node.setAttribute(k, String(v));
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

export function setText(id, value) {
  byId(id).textContent = value === undefined || value === null || value === "" ? "—" : String(value);
}

export function show(node, visible = true) {
  (typeof node === "string" ? byId(node) : node).hidden = !visible;
}

export function showError(id, err) {
  const box = byId(id);
  box.textContent = err instanceof Error ? err.message : String(err);
  box.hidden = false;
}

export function clearError(id) {
  const box = byId(id);
  box.textContent = "";
  box.hidden = true;
}

export function showStatus(id, message) {
  const box = byId(id);
  box.textContent = message;
  box.hidden = false;
}

// isZeroTime recognises Go's zero time.Time, which the API sends for "never".
export function isZeroTime(iso) {
  return !iso || iso.startsWith("0001-01-01");
}

// fmtTime renders an RFC 3339 time as "YYYY-MM-DD HH:MM UTC": one unambiguous form for
// every browser locale.
export function fmtTime(iso) {
  if (isZeroTime(iso)) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

export function list(values) {
  return Array.isArray(values) && values.length > 0 ? values.join(", ") : "—";
}

// withBusy disables button while fn runs, so a double click cannot send a call twice.
export async function withBusy(button, fn) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

// splitList turns "a, b,,c" into ["a", "b", "c"].
export function splitList(text) {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter((s) => s !== "");
}

// clear removes every child of node.
export function clear(node) {
  node.replaceChildren();
}

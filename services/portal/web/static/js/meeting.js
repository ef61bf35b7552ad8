// meeting.js: the meeting page. The lobby shows the camera and microphone preview, asks for
// a display name (and the PIN when the meeting has one); Join starts a Call (meetingrtc.js)
// and the page shows everyone in a grid with their name, muted badges and the active
// speaker, a connection-quality indicator, and buttons to mute and to leave.
//
// For tests, window.stoaMeeting is a read-only hook: participants() lists the remote
// participants and stats() resolves to what this browser decoded from each of them.
import { get, APIError } from "./api.js";
import { byId, clearError, show, showError, withBusy } from "./dom.js";
import { startPage } from "./nav.js";
import { Call } from "./meetingrtc.js";
import { Grid, SELF } from "./meetingtiles.js";
import { formatMeetingID, joinErrorMessage, normalizeMeetingID, qualityText } from "./meetingview.js";

const QUALITY_MS = 2000;
const STATE_TEXT = {
  joining: "Joining…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  failed: "Disconnected",
  left: "You left the meeting",
};

let meetingID = "";
let stream = null; // local camera + microphone (null when unavailable)
let call = null;
let grid = null;
let qualityTimer = 0;
const muted = { audio: false, video: false };

function relayOnly() {
  return new URLSearchParams(window.location.search).get("relay") === "1";
}

// startPreview asks for camera and microphone. Without them one can still join to watch and
// listen, so a refusal is a warning, not the end of the page.
async function startPreview() {
  clearError("media-error");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError("media-error", new Error("This browser gives the page no camera or microphone (is the portal opened over HTTPS?). You can still join to watch and listen."));
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true },
      video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24 } },
    });
  } catch (err) {
    stream = null;
    showError("media-error", new Error(`Camera and microphone are not available (${err.name}: ${err.message}). You can still join to watch and listen.`));
    return;
  }
  for (const t of stream.getAudioTracks()) t.enabled = !muted.audio;
  for (const t of stream.getVideoTracks()) t.enabled = !muted.video;
  byId("preview").srcObject = stream;
}

function stopPreview() {
  if (stream) for (const t of stream.getTracks()) t.stop();
  stream = null;
  byId("preview").srcObject = null;
}

function renderToggles() {
  const mic = byId("toggle-mic");
  const cam = byId("toggle-cam");
  mic.textContent = muted.audio ? "Unmute microphone" : "Mute microphone";
  mic.setAttribute("aria-pressed", String(muted.audio));
  cam.textContent = muted.video ? "Turn camera on" : "Turn camera off";
  cam.setAttribute("aria-pressed", String(muted.video));
  show("preview-off", muted.video);
  if (grid) grid.setSelfMuted(muted);
}

function toggle(kind) {
  muted[kind] = !muted[kind];
  if (call) call.setMuted(kind, muted[kind]);
  else if (stream) for (const t of kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks()) t.enabled = !muted[kind];
  renderToggles();
}

function setState(name, detail) {
  const el = byId("call-state");
  el.textContent = detail && name !== "connected" ? `${STATE_TEXT[name] || name} ${detail}` : STATE_TEXT[name] || name;
  el.dataset.state = name;
  if (name === "connected") clearError("call-error");
  if (name === "failed") endCall(detail || "The call ended.");
}

async function sampleQuality() {
  if (!call) return;
  try {
    const q = await call.quality();
    const el = byId("quality");
    el.dataset.level = q.level;
    el.textContent = qualityText(q);
  } catch (err) {
    console.warn("meeting: stats unavailable:", err.message);
  }
}

async function join(ev) {
  ev.preventDefault();
  clearError("join-error");
  const name = byId("join-name").value.trim();
  if (name === "") {
    showError("join-error", new Error("Enter the name the others will see."));
    byId("join-name").focus();
    return;
  }
  show("left-notice", false);
  const c = new Call({
    meetingID,
    name,
    pin: byId("join-pin").value.trim(),
    stream,
    relay: relayOnly(),
    e2ee: new URLSearchParams(window.location.search).get("e2ee") === "1",
    ui: {
      state: setState,
      upsert: (p) => grid.upsert(p),
      remove: (id) => grid.remove(id),
      media: (id, s) => grid.media(id, s),
      speaker: (id) => grid.speaker(id === c.selfID ? SELF : id),
      error: (msg) => showError("call-error", new Error(msg)),
      secured: (on) => show("e2ee-state", on),
    },
  });
  c.muted = { ...muted };
  grid = new Grid(byId("grid"), { name, stream, muted });
  show("join-progress", true);
  try {
    await withBusy(byId("join-submit"), () => c.start());
  } catch (err) {
    c.leave();
    grid.clear();
    grid = null;
    showError("join-error", new Error(joinErrorMessage(err)));
    if (err instanceof APIError && err.code === "meeting.pin") {
      show("pin-field", true);
      byId("join-pin").select();
    }
    return;
  } finally {
    show("join-progress", false);
  }
  call = c;
  show("lobby", false);
  show("call", true);
  show("leave", true);
  qualityTimer = window.setInterval(sampleQuality, QUALITY_MS);
}

// endCall goes back to the lobby: after Leave (failure empty) the camera restarts so the
// preview is fresh; after a failure that rejoining cannot fix, the lobby says why.
function endCall(failure = "") {
  window.clearInterval(qualityTimer);
  const c = call;
  call = null;
  if (c) c.leave();
  if (grid) grid.clear();
  grid = null;
  show("call", false);
  show("leave", false);
  show("lobby", true);
  if (failure) {
    showError("join-error", new Error(failure));
    return;
  }
  show("left-notice", true);
  stopPreview();
  startPreview();
}

async function loadMeeting(user) {
  byId("join-name").value = user.name;
  try {
    const m = await get(`/api/v1/meetings/${encodeURIComponent(meetingID)}`);
    byId("meeting-title").textContent = m.name;
    document.title = `${m.name} · Stoa Portal`;
    show("pin-field", !!m.has_pin);
  } catch (err) {
    // Someone else's meeting may not be listed for this account; joining by ID still works,
    // and the PIN field appears if the portal asks for one.
    if (!(err instanceof APIError) || (err.status !== 403 && err.status !== 404)) throw err;
    byId("meeting-title").textContent = `Meeting ${formatMeetingID(meetingID)}`;
  }
}

async function main() {
  const user = await startPage([]);
  if (!user) return;
  const parsed = normalizeMeetingID(new URLSearchParams(window.location.search).get("id") || "");
  if (parsed.error) {
    show("main", false);
    showError("page-error", new Error(`${parsed.error} Open a meeting from the Meetings page.`));
    return;
  }
  meetingID = parsed.id;
  byId("meeting-id").textContent = formatMeetingID(meetingID);
  byId("join-form").addEventListener("submit", join);
  byId("toggle-mic").addEventListener("click", () => toggle("audio"));
  byId("toggle-cam").addEventListener("click", () => toggle("video"));
  byId("leave").addEventListener("click", () => endCall());
  // Leaving the page frees the seat at once instead of after the router's timeout.
  window.addEventListener("pagehide", () => { if (call) call.leave(); });
  window.stoaMeeting = Object.freeze({
    participants: () => (call ? call.participantList() : []),
    stats: () => (call ? call.participantStats() : Promise.resolve({})),
    state: () => byId("call-state").dataset.state || "",
    // e2ee: whether the call encrypts media end to end, and its frame counters.
    e2ee: () => (call && call.e2ee ? { ...call.e2eeStats } : null),
  });
  renderToggles();
  await Promise.all([loadMeeting(user), startPreview()]);
}

main().catch((err) => showError("page-error", err));

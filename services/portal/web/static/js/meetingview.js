// meetingview.js: the meeting pages' pure logic (IDs, PINs, call quality, rejoin backoff),
// kept apart from the DOM and WebRTC so it reads, and can be exercised from a browser test,
// on its own.

// formatMeetingID groups a ten-digit meeting ID the way people read it: "123 456 7890".
export function formatMeetingID(id) {
  const s = String(id);
  if (!/^[0-9]{10}$/.test(s)) return s;
  return `${s.slice(0, 3)} ${s.slice(3, 6)} ${s.slice(6)}`;
}

// normalizeMeetingID turns what someone typed ("123 456-7890") into the ten digits of a
// meeting ID. It returns { id } or { error } naming the problem.
export function normalizeMeetingID(text) {
  const compact = String(text).replace(/[\s-]/g, "");
  if (compact === "") return { error: "Enter the 10-digit meeting ID." };
  if (!/^[0-9]+$/.test(compact)) return { error: "A meeting ID has only digits (spaces and dashes are fine)." };
  if (compact.length !== 10) return { error: `A meeting ID has 10 digits; this one has ${compact.length}.` };
  return { id: compact };
}

// Quality thresholds: one-way mouth-to-ear delay above ~150 ms starts to hurt conversation
// (ITU-T G.114), so the round trip is judged at 300/600 ms; Opus and VP8 with NACK hide a
// few percent of loss, beyond ~8 % artefacts are plain to see.
const GOOD_RTT_MS = 300;
const FAIR_RTT_MS = 600;
const GOOD_LOSS_PCT = 2;
const FAIR_LOSS_PCT = 8;

// classifyQuality turns a round-trip time (ms, null when unknown) and a packet loss
// percentage into "good", "fair", "poor" or "unknown" (nothing measured yet).
export function classifyQuality(rttMs, lossPct) {
  const haveRTT = typeof rttMs === "number" && Number.isFinite(rttMs);
  const haveLoss = typeof lossPct === "number" && Number.isFinite(lossPct);
  if (!haveRTT && !haveLoss) return "unknown";
  const rtt = haveRTT ? rttMs : 0;
  const loss = haveLoss ? lossPct : 0;
  if (rtt <= GOOD_RTT_MS && loss <= GOOD_LOSS_PCT) return "good";
  if (rtt <= FAIR_RTT_MS && loss <= FAIR_LOSS_PCT) return "fair";
  return "poor";
}

// qualityText is the indicator's label, e.g. "Good · 12 ms · 0.0 % loss".
export function qualityText(q) {
  const names = { good: "Good", fair: "Fair", poor: "Poor", unknown: "Measuring…" };
  const parts = [names[q.level] || q.level];
  if (typeof q.rttMs === "number") parts.push(`${Math.round(q.rttMs)} ms`);
  if (typeof q.lossPct === "number") parts.push(`${q.lossPct.toFixed(1)} % loss`);
  return parts.join(" · ");
}

// lossPercent is the share of packets lost between two samples of cumulative counters
// (received, lost); null when no packet was expected in between.
export function lossPercent(prev, cur) {
  const recv = cur.received - (prev ? prev.received : 0);
  const lost = Math.max(0, cur.lost - (prev ? prev.lost : 0));
  if (recv + lost <= 0) return null;
  return (100 * lost) / (recv + lost);
}

// Rejoin backoff: quick first retries (a router restart or a moved meeting takes about a
// second), then slower so a portal that is down is not hammered; jitter keeps many
// clients of one failed router from rejoining in lockstep.
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const BACKOFF_MAX_MS = 15000;

// backoffDelay is the wait before rejoin attempt n (0-based); rand in [0, 1) adds up to
// 20 % jitter.
export function backoffDelay(n, rand = 0) {
  const base = n < BACKOFF_MS.length ? BACKOFF_MS[n] : BACKOFF_MAX_MS;
  return Math.round(base * (1 + 0.2 * Math.min(Math.max(rand, 0), 1)));
}

// Join errors that retrying cannot fix: the person must act (PIN, meeting gone, no right).
const FATAL_JOIN_CODES = new Set(["meeting.pin", "meeting.pin_locked", "meeting.not_found", "not_found", "auth.forbidden", "e2ee.unsupported"]);

// joinErrorIsFatal reports whether a failed join through the portal (an APIError) should stop
// rejoining and wait for the person: wrong PIN, meeting deleted, session gone, no right. A
// full licence, an unavailable router or a network error are worth retrying.
export function joinErrorIsFatal(err) {
  if (!err || typeof err.status !== "number") return false;
  if (FATAL_JOIN_CODES.has(err.code)) return true;
  if (err.status === 403) return err.code !== "licence.full";
  return err.status === 400 || err.status === 401 || err.status === 404 || err.status === 422;
}

// joinErrorMessage turns a failed join into what the page shows: the server's own words,
// with a hint for the cases people can act on.
export function joinErrorMessage(err) {
  const msg = err && err.message ? err.message : String(err);
  switch (err && err.code) {
    case "meeting.pin":
      return `Wrong PIN: ${msg}`;
    case "meeting.pin_locked":
      return `Joining is paused: ${msg}`;
    case "licence.full":
      return `The meeting cannot take more people right now: ${msg}`;
    case "router.unavailable":
      return `No media server is available: ${msg}`;
    default:
      return msg;
  }
}

// simulcastEncodings are the three layers the router expects (rids q, h, f: quarter, half
// and full resolution; RFC 8853 simulcast), lowest first.
export function simulcastEncodings() {
  return [
    { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150000 },
    { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500000 },
    { rid: "f", maxBitrate: 1500000 },
  ];
}

// signalURL resolves the join response's signaling URL against the page, so a relative path
// works too, and maps http(s) to ws(s).
export function signalURL(raw, base) {
  const u = new URL(raw, base);
  if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol === "http:") u.protocol = "ws:";
  return u.href;
}

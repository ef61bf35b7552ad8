// meetingrtc.js: one person's call in a meeting. It joins through the portal (POST
// /api/v1/meetings/{id}/join), speaks the router's signaling protocol (services/api
// conference.go) over the WebSocket the portal proxies, and runs one RTCPeerConnection: this
// side offers its camera (three simulcast layers) and microphone once, then answers every
// renegotiation offer the router makes as people come and go. When the signaling drops it
// rejoins through the portal with backoff, so a moved meeting or a restarted router heals.
import { post } from "./api.js";
import {
  backoffDelay, classifyQuality, joinErrorIsFatal, joinErrorMessage, lossPercent, signalURL, simulcastEncodings,
} from "./meetingview.js";
import { E2EEError, Session as E2EESession } from "./sframe.js";

// A participant that never gets "joined" back (router gone silent) is treated as dropped.
const JOIN_TIMEOUT_MS = 10000;
// How often the sender's counters are checked until the router has each published track.
const PUBLISH_CHECK_MS = 1000;

// Call events go to ui, an object with these optional methods:
//   state(name, detail)   "joining", "connected", "reconnecting", "failed", "left"
//   upsert(participant)   a remote participant appeared or changed (name, tracks, muted)
//   remove(id)            a remote participant left
//   media(id, stream)     the MediaStream carrying that participant's tracks
//   speaker(id)           the router's active speaker
//   error(message)        something to show; the call goes on (or rejoins) by itself
//   secured(on)           the join answer says the meeting is (not) under the Secured option:
//                         while on, all media is end-to-end encrypted (SFrame)
export class Call {
  constructor({ meetingID, name, pin, stream, relay, e2ee, ui }) {
    this.meetingID = meetingID;
    this.name = name;
    this.pin = pin;
    this.stream = stream; // local camera+microphone, or null to only watch and listen
    this.relay = relay; // TURN only (iceTransportPolicy "relay")
    this.wantE2EE = !!e2ee; // end-to-end encryption asked for (the Secured option forces it)
    this.e2ee = null; // sframe.js Session of the current connection
    this.e2eeOps = Promise.resolve();
    this.e2eeStats = { encrypted: 0, decrypted: 0, dropped: 0 };
    this.ui = ui;
    this.selfID = "";
    this.people = new Map(); // participant ID -> { id, name, kind, tracks: Map(trackID -> {kind, muted}) }
    this.receivers = new Map(); // RTCRtpReceiver -> participant ID
    this.muted = { audio: false, video: false };
    this.ws = null;
    this.pc = null;
    this.ops = Promise.resolve();
    this.generation = 0; // bumps on every (re)connect; events of older connections are ignored
    this.attempt = 0;
    this.timer = 0;
    this.closed = false;
    this.lastCounters = null;
    this.published = new Set(); // kinds the router has seen media of (it knows the track ID)
    this.sending = new Set(); // kinds seen sending at the previous check
    this.muteDirty = new Set(); // kinds whose mute state the router has not been told yet
    this.pubTimer = 0;
    this.pendingCandidates = []; // router candidates that arrived before its description
  }

  emit(method, ...args) {
    const fn = this.ui && this.ui[method];
    if (typeof fn === "function") fn.apply(this.ui, args);
  }

  // start joins for the first time. It resolves once the router says "joined" and rejects
  // with the portal's or router's error otherwise, so the lobby can show it.
  async start() {
    this.emit("state", "joining");
    await this.connect();
  }

  async connect() {
    const gen = ++this.generation;
    // A browser that can do e2ee always offers its key: the portal binds it into the token,
    // and the join answer says whether the Secured option makes e2ee mandatory.
    const { keys, missing } = await e2eeKeys();
    const body = { pin: this.pin, name: this.name };
    if (keys) body.e2ee_key = keys.publicKey();
    const resp = await post(`/api/v1/meetings/${encodeURIComponent(this.meetingID)}/join`, body);
    if (gen !== this.generation || this.closed) return;
    this.emit("secured", !!resp.secured);
    if (resp.secured && !keys) {
      // Say so here rather than let the router refuse a client that declared no e2ee.
      const err = new Error(`This meeting is end-to-end encrypted (Secured option), and this browser cannot take part: ${missing}. Join with a current Chromium, Chrome or Edge.`);
      err.code = "e2ee.unsupported";
      err.status = 0;
      throw err;
    }
    this.e2ee = null;
    if (keys && (resp.secured || this.wantE2EE) && resp.token_key) {
      const claims = JSON.parse(atob(resp.token.split(".")[0].replaceAll("-", "+").replaceAll("_", "/")));
      await keys.bind(claims.mtg, resp.participant_id, Uint8Array.from(atob(resp.token_key), (c) => c.charCodeAt(0)));
      this.e2ee = keys;
      this.e2eeOps = Promise.resolve();
    }
    this.iceServers = (resp.ice_servers || []).map((s) => {
      const server = { urls: s.urls };
      if (s.username) server.username = s.username;
      if (s.credential) server.credential = s.credential;
      return server;
    });
    this.selfID = resp.participant_id;
    await new Promise((resolve, reject) => {
      const ws = new WebSocket(signalURL(resp.signal_url, window.location.href));
      this.ws = ws;
      let joined = false;
      const timeout = window.setTimeout(() => {
        if (!joined && gen === this.generation) {
          reject(new Error("The media server did not answer the join in time."));
          this.teardown();
        }
      }, JOIN_TIMEOUT_MS);
      // Without e2ee a meeting under the Secured option refuses this client with the router's
      // "secured option" error.
      ws.addEventListener("open", () => this.send(ws, "join", { token: resp.token, e2ee: !!this.e2ee }));
      ws.addEventListener("message", (ev) => {
        if (gen !== this.generation) return;
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch {
          console.warn("meeting: signaling message is not JSON");
          return;
        }
        if (msg.type === "joined" && !joined) {
          joined = true;
          window.clearTimeout(timeout);
          this.onJoined(gen, msg.data || {});
          resolve();
          return;
        }
        if (msg.type === "error" && !joined) {
          const d = msg.data || {};
          const err = new Error(d.error || d.code || "The media server refused the join.");
          err.code = d.code || "";
          window.clearTimeout(timeout);
          reject(err);
          return;
        }
        this.onMessage(gen, msg);
      });
      ws.addEventListener("close", (ev) => {
        if (gen !== this.generation) return;
        window.clearTimeout(timeout);
        const why = `signaling closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`;
        if (!joined) {
          this.teardown();
          reject(new Error(`Could not reach the media server: ${why}.`));
          return;
        }
        this.dropped(why);
      });
    });
  }

  send(ws, type, data) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type, data }));
  }

  // enqueue runs SDP and candidate work one step at a time, in message order: the peer
  // connection must see the router's offer before the candidates that follow it.
  enqueue(gen, fn) {
    this.ops = this.ops.then(async () => {
      if (gen !== this.generation || !this.pc) return;
      try {
        await fn(this.pc);
      } catch (err) {
        if (gen !== this.generation) return;
        console.warn("meeting: negotiation failed:", err.message);
        this.dropped(`negotiation failed: ${err.message}`);
      }
    });
  }

  onJoined(gen, data) {
    this.attempt = 0;
    this.selfID = data.participant_id || this.selfID;
    const present = new Set();
    for (const p of data.participants || []) {
      if (p.id === this.selfID) continue;
      present.add(p.id);
      this.upsert(p);
      if (p.token) this.e2eeOp(gen, async (s) => this.sendKeys(gen, [await s.addPeer(p.id, p.token, false)]));
    }
    for (const id of [...this.people.keys()]) {
      if (!present.has(id)) this.removePerson(id);
    }
    this.startPeer(gen);
    this.emit("state", "connected");
  }

  onMessage(gen, msg) {
    const d = msg.data || {};
    switch (msg.type) {
      case "offer":
        this.enqueue(gen, async (pc) => {
          await pc.setRemoteDescription({ type: "offer", sdp: d.sdp });
          await this.flushCandidates(pc);
          await pc.setLocalDescription(await pc.createAnswer());
          this.send(this.ws, "answer", { sdp: pc.localDescription.sdp, type: "answer" });
        });
        break;
      case "answer":
        this.enqueue(gen, async (pc) => {
          await pc.setRemoteDescription({ type: "answer", sdp: d.sdp });
          await this.flushCandidates(pc);
        });
        break;
      case "candidate":
        if (!d.candidate) break; // end of candidates: nothing to add
        this.enqueue(gen, (pc) => {
          const c = { candidate: d.candidate, sdpMid: d.sdpMid ?? null, sdpMLineIndex: d.sdpMLineIndex ?? null };
          // The router trickles its first candidates while it sets its answer, so they can
          // arrive before the answer itself: keep them until there is a remote description.
          if (!pc.remoteDescription) {
            this.pendingCandidates.push(c);
            return undefined;
          }
          return this.addCandidate(pc, c);
        });
        break;
      case "participant_joined":
        if (d.id && d.id !== this.selfID) this.upsert(d);
        if (d.id && d.token) this.e2eeOp(gen, async (s) => this.sendKeys(gen, [await s.addPeer(d.id, d.token, true)]));
        break;
      case "participant_left":
        if (d.id) this.removePerson(d.id);
        if (d.id) this.e2eeOp(gen, async (s) => this.sendKeys(gen, await s.removePeer(d.id)));
        break;
      case "e2ee_key":
        // Go's []byte is standard base64 in JSON.
        if (d.from && d.key) this.e2eeOp(gen, (s) => s.handleKey(d.from, Uint8Array.from(atob(d.key), (c) => c.charCodeAt(0))));
        break;
      case "track":
        this.onTrackEvent(d);
        break;
      case "active_speaker":
        this.emit("speaker", d.participant_id || "");
        break;
      case "reconnect":
        this.dropped(`the media server asked to reconnect${d.reason ? ` (${d.reason})` : ""}`, true);
        break;
      case "error":
        this.emit("error", d.error || d.code || "The media server reported an error.");
        break;
      default:
        console.warn("meeting: unknown signaling message", msg.type);
    }
  }

  // e2eeOp runs key exchange steps one at a time. A key the portal did not sign, or a key
  // message that does not open, means the router is attacking the meeting: the call ends.
  e2eeOp(gen, fn) {
    if (!this.e2ee) return;
    const s = this.e2ee;
    this.e2eeOps = this.e2eeOps.then(async () => {
      if (gen !== this.generation) return;
      try {
        await fn(s);
      } catch (err) {
        if (gen !== this.generation) return;
        console.warn("meeting: e2ee:", err.message);
        if (err instanceof E2EEError) {
          this.emit("error", `End-to-end encryption refused a participant's key: ${err.message}`);
          this.leave();
        }
      }
    });
  }

  sendKeys(gen, out) {
    if (gen !== this.generation) return;
    for (const o of out) this.send(this.ws, "e2ee_key", { to: o.to, key: btoa(String.fromCharCode(...o.key)) });
  }

  // encryptSender / decryptReceiver put SFrame on a sender's or receiver's encoded frames
  // (Chromium's encoded insertable streams). Frames that do not decrypt are dropped.
  encryptSender(sender, kind) {
    const s = this.e2ee;
    const stats = this.e2eeStats;
    const { readable, writable } = sender.createEncodedStreams();
    readable.pipeThrough(new TransformStream({
      async transform(frame, ctl) {
        try {
          frame.data = (await s.encryptFrame(frameCodec(frame, kind), new Uint8Array(frame.data))).buffer;
          stats.encrypted++;
          ctl.enqueue(frame);
        } catch (err) {
          console.warn("meeting: e2ee encrypt:", err.message);
        }
      },
    })).pipeTo(writable).catch(() => {});
  }

  decryptReceiver(receiver, pid) {
    const s = this.e2ee;
    const stats = this.e2eeStats;
    const kind = receiver.track.kind;
    const { readable, writable } = receiver.createEncodedStreams();
    readable.pipeThrough(new TransformStream({
      async transform(frame, ctl) {
        try {
          frame.data = (await s.decryptFrame(pid, frameCodec(frame, kind), new Uint8Array(frame.data))).buffer;
          stats.decrypted++;
          ctl.enqueue(frame);
        } catch {
          stats.dropped++;
          // No key yet, replayed or tampered: drop the frame (the next key frame recovers).
        }
      },
    })).pipeTo(writable).catch(() => {});
  }

  addCandidate(pc, c) {
    return pc.addIceCandidate(c).catch((err) => console.warn("meeting: candidate refused:", err.message));
  }

  async flushCandidates(pc) {
    const queued = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of queued) await this.addCandidate(pc, c);
  }

  upsert(p) {
    const cur = this.people.get(p.id) || { id: p.id, name: "", kind: "", tracks: new Map() };
    cur.name = p.name || cur.name || "Guest";
    cur.kind = p.kind || cur.kind;
    if (Array.isArray(p.tracks)) {
      cur.tracks = new Map(p.tracks.map((t) => [t.id, { kind: t.kind, muted: !!t.muted }]));
    }
    this.people.set(p.id, cur);
    this.emit("upsert", cur);
  }

  removePerson(id) {
    if (!this.people.delete(id)) return;
    for (const [r, pid] of this.receivers) {
      if (pid === id) this.receivers.delete(r);
    }
    this.emit("remove", id);
  }

  onTrackEvent(d) {
    if (!d.participant || !d.track || d.participant === this.selfID) return;
    // The router withdraws a leaver's tracks around its participant_left: that must not
    // bring the person back.
    if (d.removed && !this.people.has(d.participant)) return;
    const p = this.people.get(d.participant) || { id: d.participant, name: "Guest", kind: "", tracks: new Map() };
    if (d.removed) p.tracks.delete(d.track.id);
    else p.tracks.set(d.track.id, { kind: d.track.kind, muted: !!d.track.muted });
    this.people.set(p.id, p);
    this.emit("upsert", p);
  }

  startPeer(gen) {
    const cfg = {
      iceServers: this.iceServers,
      iceTransportPolicy: this.relay ? "relay" : "all",
      bundlePolicy: "max-bundle",
      rtcpMuxPolicy: "require",
    };
    if (this.e2ee) cfg.encodedInsertableStreams = true;
    const pc = new RTCPeerConnection(cfg);
    this.pc = pc;
    this.lastCounters = null;
    this.pendingCandidates = [];
    pc.addEventListener("icecandidate", (ev) => {
      if (gen !== this.generation) return;
      const c = ev.candidate;
      // Only the fields the router's strict decoder knows; "" marks the end of candidates.
      this.send(this.ws, "candidate", c
        ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }
        : { candidate: "" });
    });
    pc.addEventListener("track", (ev) => {
      if (gen !== this.generation) return;
      this.onRemoteTrack(ev);
    });
    pc.addEventListener("connectionstatechange", () => {
      if (gen !== this.generation) return;
      if (pc.connectionState === "failed") this.dropped("the media connection failed");
    });
    if (this.stream) {
      for (const t of this.stream.getAudioTracks()) {
        const tr = pc.addTransceiver(t, { direction: "sendonly", streams: [this.stream] });
        if (this.e2ee) this.encryptSender(tr.sender, "audio");
      }
      for (const t of this.stream.getVideoTracks()) {
        const tr = pc.addTransceiver(t, { direction: "sendonly", streams: [this.stream], sendEncodings: simulcastEncodings() });
        if (this.e2ee) this.encryptSender(tr.sender, "video");
      }
    }
    // A rejoin keeps what was muted before the drop; the new router session starts unmuted.
    this.published = new Set();
    this.sending = new Set();
    this.muteDirty = new Set(["audio", "video"].filter((k) => this.muted[k]));
    window.clearInterval(this.pubTimer);
    this.pubTimer = window.setInterval(() => this.checkPublished(gen, pc), PUBLISH_CHECK_MS);
    this.enqueue(gen, async () => {
      await pc.setLocalDescription(await pc.createOffer());
      this.send(this.ws, "offer", { sdp: pc.localDescription.sdp, type: "offer" });
    });
  }

  // checkPublished finds which local tracks the router has as publications. The router
  // learns a track from its first RTP packets and refuses a "mute" for a track it does not
  // know, so mute messages wait until this side has been sending that kind for one whole
  // check interval.
  async checkPublished(gen, pc) {
    if (gen !== this.generation) return;
    for (const sender of pc.getSenders()) {
      const kind = sender.track && sender.track.kind;
      if (!kind || this.published.has(kind)) continue;
      let sent = 0;
      try {
        (await sender.getStats()).forEach((r) => {
          if (r.type === "outbound-rtp") sent += r.packetsSent || 0;
        });
      } catch {
        continue; // closed meanwhile
      }
      if (sent === 0) continue;
      if (this.sending.has(kind)) this.published.add(kind);
      else this.sending.add(kind);
    }
    if (gen !== this.generation) return;
    this.flushMutes();
    if (pc.getSenders().every((s) => !s.track || this.published.has(s.track.kind))) window.clearInterval(this.pubTimer);
  }

  flushMutes() {
    for (const kind of [...this.muteDirty]) {
      if (!this.published.has(kind)) continue;
      this.muteDirty.delete(kind);
      for (const t of this.localTracks(kind)) {
        this.send(this.ws, "mute", { track_id: t.id, muted: this.muted[kind] });
      }
    }
  }

  // onRemoteTrack files a forwarded track under its publisher: the router sets the stream ID
  // to the publisher's participant ID (services/api SigTrack).
  onRemoteTrack(ev) {
    const stream = ev.streams[0];
    let pid = stream ? stream.id : "";
    if (!pid) {
      for (const [id, p] of this.people) {
        if (p.tracks.has(ev.track.id)) pid = id;
      }
    }
    if (!pid) {
      console.warn("meeting: a track arrived for nobody known", ev.track.id);
      return;
    }
    this.receivers.set(ev.receiver, pid);
    if (this.e2ee) this.decryptReceiver(ev.receiver, pid);
    if (!this.people.has(pid)) this.upsert({ id: pid });
    this.emit("media", pid, stream || new MediaStream([ev.track]));
  }

  localTracks(kind) {
    if (!this.stream) return [];
    return kind === "audio" ? this.stream.getAudioTracks() : this.stream.getVideoTracks();
  }

  // setMuted switches the microphone ("audio") or camera ("video") off or on: the track stops
  // sending media (silence, black) and the router tells the others.
  setMuted(kind, muted) {
    this.muted[kind] = muted;
    for (const t of this.localTracks(kind)) t.enabled = !muted;
    this.muteDirty.add(kind);
    this.flushMutes();
  }

  // dropped tears the connection down and rejoins through the portal after a backoff.
  dropped(reason, immediate = false) {
    if (this.closed) return;
    this.teardown();
    this.emit("state", "reconnecting", reason);
    this.scheduleRejoin(immediate ? 0 : backoffDelay(this.attempt, Math.random()));
  }

  scheduleRejoin(delay) {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.rejoin(), delay);
  }

  async rejoin() {
    if (this.closed) return;
    this.attempt++;
    try {
      await this.connect();
    } catch (err) {
      if (this.closed) return;
      this.teardown();
      if (joinErrorIsFatal(err)) {
        this.closed = true;
        this.emit("state", "failed", joinErrorMessage(err));
        return;
      }
      this.emit("state", "reconnecting", joinErrorMessage(err));
      this.scheduleRejoin(backoffDelay(this.attempt, Math.random()));
    }
  }

  // teardown closes the current WebSocket and peer connection; their late events are ignored.
  teardown() {
    this.generation++;
    window.clearInterval(this.pubTimer);
    const { ws, pc } = this;
    this.ws = null;
    this.pc = null;
    this.receivers.clear();
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "rejoining");
    if (pc) pc.close();
  }

  // leave ends the call for good: the router hears "leave" and frees the seat at once.
  leave() {
    if (this.closed) return;
    this.closed = true;
    window.clearTimeout(this.timer);
    this.send(this.ws, "leave", {});
    this.teardown();
    for (const id of [...this.people.keys()]) this.removePerson(id);
    this.emit("state", "left");
  }

  participantList() {
    return [...this.people.values()].map((p) => {
      const tracks = [...p.tracks.values()];
      const audio = tracks.filter((t) => t.kind === "audio");
      const video = tracks.filter((t) => t.kind === "video");
      return {
        id: p.id,
        name: p.name,
        kind: p.kind,
        micMuted: audio.length === 0 || audio.every((t) => t.muted),
        cameraMuted: video.length === 0 || video.every((t) => t.muted),
      };
    });
  }

  // participantStats reports per remote participant what this browser really received and
  // decoded (inbound-rtp of the receivers carrying that participant's tracks).
  async participantStats() {
    const out = {};
    for (const [receiver, pid] of [...this.receivers]) {
      const s = out[pid] || (out[pid] = {
        framesDecoded: 0, framesPerSecond: 0, frameWidth: 0, videoPacketsReceived: 0,
        audioSamplesReceived: 0, audioPacketsReceived: 0,
      });
      const report = await receiver.getStats();
      report.forEach((r) => {
        if (r.type !== "inbound-rtp") return;
        if (r.kind === "video") {
          s.framesDecoded += r.framesDecoded || 0;
          s.framesPerSecond += r.framesPerSecond || 0;
          s.frameWidth = Math.max(s.frameWidth, r.frameWidth || 0);
          s.videoPacketsReceived += r.packetsReceived || 0;
        } else if (r.kind === "audio") {
          s.audioSamplesReceived += r.totalSamplesReceived || 0;
          s.audioPacketsReceived += r.packetsReceived || 0;
        }
      });
    }
    return out;
  }

  // quality samples the connection: RTT of the selected candidate pair, and the loss seen in
  // both directions since the last sample (inbound-rtp counters here, the router's receiver
  // reports for what this side sends).
  async quality() {
    const pc = this.pc;
    if (!pc) return { level: "unknown", rttMs: null, lossPct: null };
    const report = await pc.getStats();
    let pairID = "";
    let fallbackPair = null;
    let received = 0;
    let lost = 0;
    let remoteLoss = null;
    report.forEach((r) => {
      if (r.type === "transport" && r.selectedCandidatePairId) pairID = r.selectedCandidatePairId;
      if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded") fallbackPair = r;
      if (r.type === "inbound-rtp") {
        received += r.packetsReceived || 0;
        lost += r.packetsLost || 0;
      }
      if (r.type === "remote-inbound-rtp" && typeof r.fractionLost === "number") {
        remoteLoss = Math.max(remoteLoss ?? 0, r.fractionLost * 100);
      }
    });
    const pair = (pairID && report.get(pairID)) || fallbackPair;
    const rttMs = pair && typeof pair.currentRoundTripTime === "number" ? pair.currentRoundTripTime * 1000 : null;
    const cur = { received, lost };
    const inLoss = lossPercent(this.lastCounters, cur);
    this.lastCounters = cur;
    const losses = [inLoss, remoteLoss].filter((v) => typeof v === "number");
    const lossPct = losses.length ? Math.max(...losses) : null;
    return { level: classifyQuality(rttMs, lossPct), rttMs, lossPct };
  }
}

// e2eeKeys makes the X25519 key pair a join offers, or says what this browser lacks for it.
async function e2eeKeys() {
  if (!E2EESession.supported()) return { keys: null, missing: "it has no WebRTC encoded transforms for end-to-end encryption" };
  try {
    return { keys: await E2EESession.generate(), missing: "" };
  } catch (err) {
    return { keys: null, missing: `its Web Crypto cannot make X25519 keys (${err.message})` };
  }
}

// frameCodec names an encoded frame's codec for sframe.js: Opus for audio; for video the
// frame's MIME type when the browser reports it (VP8 or H.264, what the router forwards).
function frameCodec(frame, kind) {
  if (kind === "audio") return "opus";
  const mime = (frame.getMetadata && frame.getMetadata().mimeType) || "video/VP8";
  return mime.toLowerCase() === "video/h264" ? "h264" : "vp8";
}

// SFrame end-to-end media encryption for the browser client: the same contract as the Go
// package services/api/e2ee (read its package documentation first), with WebCrypto.
//
// - SFrame (RFC 9605), cipher suite AES_128_GCM_SHA256_128 (0x0004);
// - frame layouts: VP8 keeps 10 bytes of a key frame / 3 of a delta frame readable, H.264 keeps
//   each NAL header readable (the rest of the NAL is an escaped SFrame ending in 0x80), Opus is
//   encrypted whole; the readable bytes are the SFrame metadata (authenticated);
// - each sender's base key is labelled KID = epoch; it ratchets on a join and rotates on a leave;
// - key messages are HPKE Auth mode (RFC 9180; DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//   AES-128-GCM) between the participants' token-bound X25519 keys; tokens are verified with
//   the portal's Ed25519 key before a key is used.

const SUITE = 0x0004;
const BASE_KEY_SIZE = 16;
const TAG_SIZE = 16;
const REPLAY_WINDOW = 64;
const MAX_RATCHET = 8;
const KEEP_KEYS = 4;
const KEY_MSG_LEN = 1 + 8 + 32 + BASE_KEY_SIZE + TAG_SIZE;
const enc = new TextEncoder();

export class E2EEError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind; // "header", "auth", "replay", "nokey", "frame", "untrusted", "keymsg", "unknown", "changed"
  }
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function be(v, n) {
  const b = new Uint8Array(n);
  let x = BigInt(v);
  for (let i = n - 1; i >= 0; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return b;
}

function valueLen(v) {
  if (v < 8) return 0;
  let n = 0;
  for (let x = BigInt(v); x > 0n; x >>= 8n) n++;
  return n;
}

// encodeHeader is the minimal SFrame header for (kid, ctr) (RFC 9605 section 4.3).
export function encodeHeader(kid, ctr) {
  const kl = valueLen(kid);
  const cl = valueLen(ctr);
  let cfg = kl === 0 ? kid << 4 : 0x80 | ((kl - 1) << 4);
  cfg |= cl === 0 ? ctr : 0x08 | (cl - 1);
  return concat(Uint8Array.of(cfg), kl ? be(kid, kl) : new Uint8Array(0), cl ? be(ctr, cl) : new Uint8Array(0));
}

// parseHeader returns {kid, ctr, len}; values above 2^53 and non-minimal encodings are refused.
export function parseHeader(b) {
  if (b.length < 1) throw new E2EEError("header", "sframe header: empty");
  const cfg = b[0];
  let n = 1;
  const read = (ext, field, name) => {
    if (!ext) return field;
    const l = field + 1;
    if (b.length < n + l) throw new E2EEError("header", `sframe header: ${name} needs ${l} bytes`);
    let v = 0n;
    for (let i = 0; i < l; i++) v = (v << 8n) | BigInt(b[n + i]);
    n += l;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new E2EEError("header", `sframe header: ${name} too large`);
    if (valueLen(Number(v)) !== l) throw new E2EEError("header", `sframe header: ${name} not minimally encoded`);
    return Number(v);
  };
  const kid = read(cfg & 0x80, (cfg >> 4) & 7, "KID");
  const ctr = read(cfg & 0x08, cfg & 7, "CTR");
  return { kid, ctr, len: n };
}

function label(prefix, kid) {
  return concat(enc.encode(prefix), be(kid, 8), be(SUITE, 2));
}

async function hkdf(ikm, info, bits) {
  const k = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info }, k, bits));
}

// deriveKeySalt is RFC 9605 section 4.4.2 for suite 0x0004.
export async function deriveKeySalt(kid, base) {
  return {
    key: await hkdf(base, label("SFrame 1.0 Secret key ", kid), 128),
    salt: await hkdf(base, label("SFrame 1.0 Secret salt ", kid), 96),
  };
}

async function ratchet(base) {
  return hkdf(base, enc.encode("stoa e2ee ratchet"), BASE_KEY_SIZE * 8);
}

// SFrameKey seals and opens under one KID.
export class SFrameKey {
  static async create(kid, base) {
    const k = new SFrameKey();
    const { key, salt } = await deriveKeySalt(kid, base);
    k.kid = kid;
    k.base = base;
    k.salt = salt;
    k.aes = await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["encrypt", "decrypt"]);
    return k;
  }

  nonce(ctr) {
    const n = concat(new Uint8Array(4), be(ctr, 8));
    for (let i = 0; i < 12; i++) n[i] ^= this.salt[i];
    return n;
  }

  async seal(ctr, metadata, pt) {
    const hdr = encodeHeader(this.kid, ctr);
    const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv: this.nonce(ctr), additionalData: concat(hdr, metadata), tagLength: 128 }, this.aes, pt);
    return concat(hdr, new Uint8Array(ct));
  }

  async open(h, hdr, metadata, ct) {
    try {
      return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: this.nonce(h.ctr), additionalData: concat(hdr, metadata), tagLength: 128 }, this.aes, ct));
    } catch {
      throw new E2EEError("auth", `sframe decrypt KID ${h.kid} CTR ${h.ctr}: does not authenticate`);
    }
  }
}

// --- frame layouts ---

function vp8Clear(f) {
  return (f[0] & 1) === 0 ? 10 : 3;
}

export function splitAnnexB(b) {
  const out = [];
  let start = -1;
  const push = (end) => {
    let e = end;
    while (e > start && b[e - 1] === 0) e--;
    if (e > start) out.push(b.subarray(start, e));
  };
  for (let i = 0; i + 2 < b.length; ) {
    if (b[i] === 0 && b[i + 1] === 0 && b[i + 2] === 1) {
      if (start >= 0) push(i);
      i += 3;
      start = i;
      continue;
    }
    i++;
  }
  if (start >= 0) push(b.length);
  return out;
}

function escape(b) {
  const out = [];
  let zeros = 0;
  for (const c of b) {
    if (zeros >= 2 && c <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(c);
    zeros = c === 0 ? zeros + 1 : 0;
  }
  return Uint8Array.from(out);
}

function unescape(b) {
  const out = [];
  let zeros = 0;
  for (const c of b) {
    if (zeros >= 2 && c === 3) {
      zeros = 0;
      continue;
    }
    out.push(c);
    zeros = c === 0 ? zeros + 1 : 0;
  }
  return Uint8Array.from(out);
}

// sealFrame / openFrame lay a frame out for codec ("vp8", "h264", "opus"); seal(metadata, pt)
// returns an SFrame ciphertext, open(metadata, sframe) its plaintext.
export async function sealFrame(codec, f, seal) {
  if (codec === "opus") return seal(new Uint8Array(0), f);
  if (codec === "vp8") {
    if (f.length === 0 || f.length < vp8Clear(f)) throw new E2EEError("frame", "encrypt vp8: frame shorter than its header");
    const n = vp8Clear(f);
    return concat(f.subarray(0, n), await seal(f.subarray(0, n), f.subarray(n)));
  }
  if (codec === "h264") {
    const nals = splitAnnexB(f);
    if (nals.length === 0) throw new E2EEError("frame", "encrypt h264: no NAL unit");
    const parts = [];
    for (const nal of nals) {
      const body = concat(await seal(nal.subarray(0, 1), nal.subarray(1)), Uint8Array.of(0x80));
      parts.push(Uint8Array.of(0, 0, 0, 1, nal[0]), escape(body));
    }
    return concat(...parts);
  }
  throw new E2EEError("frame", `encrypt: unknown codec ${codec}`);
}

export async function openFrame(codec, f, open) {
  if (codec === "opus") return open(new Uint8Array(0), f);
  if (codec === "vp8") {
    if (f.length === 0) throw new E2EEError("frame", "decrypt vp8: empty");
    const n = vp8Clear(f);
    if (f.length < n + 1 + TAG_SIZE) throw new E2EEError("frame", "decrypt vp8: too short");
    return concat(f.subarray(0, n), await open(f.subarray(0, n), f.subarray(n)));
  }
  if (codec === "h264") {
    const nals = splitAnnexB(f);
    if (nals.length === 0) throw new E2EEError("frame", "decrypt h264: no NAL unit");
    const parts = [];
    for (const nal of nals) {
      const body = unescape(nal.subarray(1));
      if (body.length === 0 || body[body.length - 1] !== 0x80) throw new E2EEError("frame", "decrypt h264: NAL lacks its stop byte");
      parts.push(Uint8Array.of(0, 0, 0, 1, nal[0]), await open(nal.subarray(0, 1), body.subarray(0, body.length - 1)));
    }
    return concat(...parts);
  }
  throw new E2EEError("frame", `decrypt: unknown codec ${codec}`);
}

// --- receiving keys of one sender: replay window, ratchet-forward ---

class Window {
  constructor() {
    this.started = false;
    this.max = 0;
    this.seen = new Set();
  }
  check(ctr) {
    if (!this.started || ctr > this.max) return;
    if (this.max - ctr >= REPLAY_WINDOW) throw new E2EEError("replay", `CTR ${ctr} too old`);
    if (this.seen.has(ctr)) throw new E2EEError("replay", `CTR ${ctr} replayed`);
  }
  commit(ctr) {
    this.started = true;
    this.max = Math.max(this.max, ctr);
    this.seen.add(ctr);
    for (const c of this.seen) if (this.max - c >= REPLAY_WINDOW) this.seen.delete(c);
  }
}

class Ring {
  constructor() {
    this.keys = new Map(); // kid → {key, win}
  }
  async set(kid, base) {
    const old = this.keys.get(kid);
    if (old && old.key.base.every((v, i) => v === base[i])) return;
    this.keys.set(kid, { key: await SFrameKey.create(kid, base), win: new Window() });
    this.prune();
  }
  prune() {
    while (this.keys.size > KEEP_KEYS) this.keys.delete(Math.min(...this.keys.keys()));
  }
  async open(metadata, sframe) {
    const h = parseHeader(sframe);
    const hdr = sframe.subarray(0, h.len);
    const ct = sframe.subarray(h.len);
    const k = this.keys.get(h.kid);
    if (k) {
      k.win.check(h.ctr);
      const pt = await k.key.open(h, hdr, metadata, ct);
      k.win.commit(h.ctr);
      return pt;
    }
    if (this.keys.size === 0) throw new E2EEError("nokey", `no key for KID ${h.kid}`);
    const newest = Math.max(...this.keys.keys());
    if (h.kid < newest || h.kid - newest > MAX_RATCHET) throw new E2EEError("nokey", `no key for KID ${h.kid}`);
    let base = this.keys.get(newest).key.base;
    for (let i = newest; i < h.kid; i++) base = await ratchet(base);
    const key = await SFrameKey.create(h.kid, base);
    let pt;
    try {
      pt = await key.open(h, hdr, metadata, ct);
    } catch {
      throw new E2EEError("nokey", `KID ${h.kid} is not a ratchet of KID ${newest}: awaiting its key`);
    }
    const win = new Window();
    win.commit(h.ctr);
    this.keys.set(h.kid, { key, win });
    this.prune();
    return pt;
  }
}

// --- HPKE (RFC 9180) Auth mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM ---

async function hmac(key, data) {
  const k = await crypto.subtle.importKey("raw", key.length ? key : new Uint8Array(32), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}
const HPKE_V1 = enc.encode("HPKE-v1");
const KEM_ID = concat(enc.encode("KEM"), be(0x0020, 2));
const HPKE_ID = concat(enc.encode("HPKE"), be(0x0020, 2), be(0x0001, 2), be(0x0001, 2));
const labeledExtract = (suite, salt, lbl, ikm) => hmac(salt, concat(HPKE_V1, suite, enc.encode(lbl), ikm));
const labeledExpand = async (suite, prk, lbl, info, n) =>
  (await hmac(prk, concat(be(n, 2), HPKE_V1, suite, enc.encode(lbl), info, Uint8Array.of(1)))).subarray(0, n);

async function x25519(priv, pubRaw) {
  const pub = await crypto.subtle.importKey("raw", pubRaw, { name: "X25519" }, false, []);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: pub }, priv, 256));
}

async function keySchedule(dh, kemContext, info) {
  const prk = await labeledExtract(KEM_ID, new Uint8Array(0), "eae_prk", dh);
  const shared = await labeledExpand(KEM_ID, prk, "shared_secret", kemContext, 32);
  const pskIdHash = await labeledExtract(HPKE_ID, new Uint8Array(0), "psk_id_hash", new Uint8Array(0));
  const infoHash = await labeledExtract(HPKE_ID, new Uint8Array(0), "info_hash", info);
  const ctx = concat(Uint8Array.of(0x02), pskIdHash, infoHash); // mode_auth
  const secret = await labeledExtract(HPKE_ID, shared, "secret", new Uint8Array(0));
  const key = await labeledExpand(HPKE_ID, secret, "key", ctx, 16);
  const nonce = await labeledExpand(HPKE_ID, secret, "base_nonce", ctx, 12);
  return { key: await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["encrypt", "decrypt"]), nonce };
}

function keyInfo(meeting, from, to, kid) {
  const parts = [enc.encode("stoa e2ee key v1")];
  for (const s of [meeting, from, to]) {
    const b = enc.encode(s);
    parts.push(be(b.length, 2), b);
  }
  parts.push(be(kid, 8));
  return concat(...parts);
}

const b64u = {
  enc: (b) => btoa(String.fromCharCode(...b)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, ""),
  dec: (s) => Uint8Array.from(atob(s.replaceAll("-", "+").replaceAll("_", "/") + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0)),
};

// verifyKeyClaim checks a join token's portal signature and returns {meeting, participant, key}.
export async function verifyKeyClaim(token, portalKey) {
  const [p64, s64, extra] = token.split(".");
  if (!p64 || !s64 || extra !== undefined) throw new E2EEError("untrusted", "token is not payload.signature");
  const payload = b64u.dec(p64);
  const pk = await crypto.subtle.importKey("raw", portalKey, { name: "Ed25519" }, false, ["verify"]);
  const ok = await crypto.subtle.verify({ name: "Ed25519" }, pk, b64u.dec(s64), concat(enc.encode("stoa-token-v1\n"), payload));
  if (!ok) throw new E2EEError("untrusted", "participant key is not signed by the portal for this meeting (key substitution refused)");
  const c = JSON.parse(new TextDecoder().decode(payload));
  if (!c.e2ee) throw new E2EEError("untrusted", `participant ${c.sub} declared no e2ee key`);
  const key = b64u.dec(c.e2ee);
  if (key.length !== 32) throw new E2EEError("untrusted", "e2ee key is not an X25519 public key");
  return { meeting: c.mtg, participant: c.sub, key };
}

// Session is one participant's SFrame state, as e2ee.Session in Go. Methods are async and must
// not interleave for one session (callers chain them).
export class Session {
  static async create(meeting, self, portalKey) {
    const s = await Session.generate();
    await s.bind(meeting, self, portalKey);
    return s;
  }

  // generate makes the key pair, whose public half goes into the join request; bind completes
  // the session once the join answer names the participant and the portal's token key.
  static async generate() {
    const s = new Session();
    s.pair = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
    s.pub = new Uint8Array(await crypto.subtle.exportKey("raw", s.pair.publicKey));
    return s;
  }

  async bind(meeting, self, portalKey) {
    this.meeting = meeting;
    this.self = self;
    this.portalKey = portalKey;
    this.peers = new Map(); // id → {key, ring}
    this.pending = new Map();
    await this.use(0, crypto.getRandomValues(new Uint8Array(BASE_KEY_SIZE)));
  }

  // supported says whether this browser has what e2ee needs: X25519 and Ed25519 in WebCrypto
  // and encoded transforms on RTP senders.
  static supported() {
    return typeof RTCRtpSender !== "undefined" && typeof RTCRtpSender.prototype.createEncodedStreams === "function" &&
      typeof crypto !== "undefined" && !!crypto.subtle;
  }

  publicKey() {
    return b64u.enc(this.pub);
  }

  async use(kid, base) {
    this.kid = kid;
    this.base = base;
    this.key = await SFrameKey.create(kid, base);
    this.ctr = 0;
  }

  async addPeer(id, token, newcomer) {
    if (id === this.self) throw new E2EEError("untrusted", "that is us");
    const c = await verifyKeyClaim(token, this.portalKey);
    if (c.meeting !== this.meeting || c.participant !== id) {
      throw new E2EEError("untrusted", `token is for participant ${c.participant} of meeting ${c.meeting} (key substitution refused)`);
    }
    const old = this.peers.get(id);
    if (old) {
      if (!old.key.every((v, i) => v === c.key[i])) throw new E2EEError("changed", `participant ${id} presented a different key (key substitution refused)`);
    } else {
      this.peers.set(id, { key: c.key, ring: new Ring() });
      for (const b of this.pending.get(id) || []) await this.handleKey(id, b);
      this.pending.delete(id);
      if (newcomer) await this.use(this.kid + 1, await ratchet(this.base));
    }
    return this.seal(id);
  }

  async removePeer(id) {
    this.pending.delete(id);
    if (!this.peers.delete(id)) return [];
    await this.use(this.kid + 1, crypto.getRandomValues(new Uint8Array(BASE_KEY_SIZE)));
    const out = [];
    for (const pid of [...this.peers.keys()].sort()) out.push(await this.seal(pid));
    return out;
  }

  async seal(to) {
    const p = this.peers.get(to);
    const eph = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
    const encKey = new Uint8Array(await crypto.subtle.exportKey("raw", eph.publicKey));
    const dh = concat(await x25519(eph.privateKey, p.key), await x25519(this.pair.privateKey, p.key));
    const ks = await keySchedule(dh, concat(encKey, p.key, this.pub), keyInfo(this.meeting, this.self, to, this.kid));
    const head = concat(Uint8Array.of(1), be(this.kid, 8));
    const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv: ks.nonce, additionalData: head }, ks.key, this.base);
    return { to, key: concat(head, encKey, new Uint8Array(ct)) };
  }

  async handleKey(from, b) {
    if (b.length !== KEY_MSG_LEN || b[0] !== 1) throw new E2EEError("keymsg", `bad e2ee key message from ${from}`);
    const p = this.peers.get(from);
    if (!p) {
      this.pending.set(from, [...(this.pending.get(from) || []), b]);
      return;
    }
    const kid = parseInt(Array.from(b.subarray(1, 9), (x) => x.toString(16).padStart(2, "0")).join(""), 16);
    const encKey = b.subarray(9, 41);
    const dh = concat(await x25519(this.pair.privateKey, encKey), await x25519(this.pair.privateKey, p.key));
    const ks = await keySchedule(dh, concat(encKey, this.pub, p.key), keyInfo(this.meeting, from, this.self, kid));
    let base;
    try {
      base = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: ks.nonce, additionalData: b.subarray(0, 9) }, ks.key, b.subarray(41)));
    } catch {
      throw new E2EEError("keymsg", `e2ee key from ${from} KID ${kid}: does not authenticate`);
    }
    await p.ring.set(kid, base);
  }

  async encryptFrame(codec, frame) {
    return sealFrame(codec, frame, (md, pt) => this.key.seal(this.ctr++, md, pt));
  }

  async decryptFrame(from, codec, frame) {
    const p = this.peers.get(from);
    if (!p) throw new E2EEError("unknown", `no portal-verified key for participant ${from}`);
    return openFrame(codec, frame, (md, sf) => p.ring.open(md, sf));
  }
}

export const base64url = b64u;

// The room's touch panel: screens chosen from the room's live status (no polling).
import { RoomConnection } from './conn.js';

const $ = (id) => document.getElementById(id);
const screens = ['loading', 'pair', 'home', 'joining', 'call', 'setup', 'standby', 'error'];
const ui = { view: 'home', dismissedFailure: '', session: null, conn: null, st: null, link: 'connecting' };

function show(name) {
  for (const s of screens) $(`screen-${s}`).hidden = s !== name;
  document.body.dataset.screen = name;
}

function banner(text) {
  const b = $('banner');
  b.textContent = text || '';
  b.hidden = !text;
}

async function api(path, body) {
  const r = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST', credentials: 'same-origin',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) { const e = new Error(data.message || `The room answered ${r.status}.`); e.code = data.code; throw e; }
  return data;
}

// --- pairing ---

async function checkSession() {
  try {
    ui.session = await api('/api/session');
  } catch {
    show('loading');
    setTimeout(checkSession, 1000);
    return;
  }
  if (!ui.session.paired) {
    if (ui.conn) { ui.conn.close(); ui.conn = null; }
    show('pair');
    if (ui.session.locked_until) lockedMessage(ui.session.locked_until);
    return;
  }
  if (!ui.conn) {
    ui.conn = new RoomConnection({ onStatus: render, onEvent: () => {}, onState: linkState });
    ui.conn.open();
  }
}

function lockedMessage(until) {
  const t = new Date(until).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  $('pair-msg').textContent = `Too many wrong PINs. Pairing is locked until ${t}; wait, then tap Show PIN again.`;
  document.body.dataset.pairLocked = 'true';
}

$('pair-start').addEventListener('click', async () => {
  $('pair-msg').textContent = '';
  try {
    await api('/api/pair/start', {});
    $('pair-msg').textContent = 'The PIN is on the room\'s screen now.';
    $('pair-pin').focus();
  } catch (e) { $('pair-msg').textContent = e.message; }
});

$('pair-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('pair-msg').textContent = '';
  try {
    await api('/api/pair', { pin: $('pair-pin').value.trim(), name: $('pair-name').value });
    $('pair-msg').textContent = '';
    $('pair-pin').value = '';
    await checkSession();
  } catch (e) {
    $('pair-msg').textContent = e.message;
    if (e.code === 'locked') document.body.dataset.pairLocked = 'true';
  }
});

function linkState(s) {
  ui.link = s;
  if (s === 'open') { banner(''); return; }
  if (s === 'refused') { checkSession(); }
  banner('Lost the connection to the room; reconnecting…');
}

// --- rendering ---

function render(st) {
  ui.st = st;
  $('room-name').textContent = st.pairing.name || st.network.hostname || 'Room';
  const call = st.call;
  const inCall = call.state === 'in_call' || call.state === 'joining';
  const portalDown = st.pairing.state === 'paired' && !st.pairing.online;
  renderCall(st);
  renderSetup(st);
  if (ui.link === 'open') banner(inCall && portalDown ? 'The room lost the portal; the call goes on while it can.' : '');
  if (call.state !== 'failed') ui.dismissedFailure = '';

  if (st.standby) { show('standby'); return; }
  if (call.state === 'joining') { $('joining-meeting').textContent = call.meeting || 'The room\'s meeting'; show('joining'); return; }
  if (call.state === 'in_call') { show('call'); return; }
  if (ui.view === 'setup') { show('setup'); return; }
  if (call.state === 'failed' && ui.dismissedFailure !== call.error) { errorScreen('call', call.error); return; }
  if (st.pairing.state !== 'paired') { errorScreen('unpaired', st.pairing.code); return; }
  if (portalDown) { errorScreen('portal'); return; }
  show('home');
}

function errorScreen(kind, detail) {
  const t = $('error-title'), x = $('error-text'), n = $('error-next');
  document.body.dataset.error = kind;
  $('error-ok').hidden = kind !== 'call';
  if (kind === 'portal') {
    t.textContent = 'The portal is unreachable';
    x.textContent = 'The room cannot reach its portal, so it cannot join meetings right now.';
    n.textContent = 'Check the room\'s network cable and that the portal server is running. This screen goes away by itself when the portal answers again.';
  } else if (kind === 'unpaired') {
    t.textContent = 'This room is not set up yet';
    x.textContent = detail ? `Pairing code: ${detail}` : 'The room is looking for its portal.';
    n.textContent = 'An administrator enters this code on the portal under Admin → Rooms.';
  } else if (/licen[cs]e|seat/i.test(detail || '')) {
    t.textContent = 'The meeting is full';
    x.textContent = 'All licensed seats are in use.';
    n.textContent = 'Wait until someone leaves, or ask your administrator for more seats, then try again.';
  } else {
    t.textContent = 'The call failed';
    x.textContent = detail || 'The room could not join.';
    n.textContent = 'Check the meeting ID and PIN and try again. If it keeps failing, look at Setup for the room\'s connection.';
  }
  show('error');
}

function renderCall(st) {
  const call = st.call;
  $('call-meeting').textContent = call.meeting || 'the room\'s meeting';
  const list = $('participants');
  const parts = call.participants || [];
  list.replaceChildren(...(parts.length ? parts.map(participant) : [emptyItem()]));
  setPressed($('mic'), st.audio.mic_muted, 'Unmute microphone', 'Mute microphone');
  setPressed($('cam'), st.video.camera_muted, 'Start camera', 'Stop camera');
  $('vol').value = st.audio.volume;
  $('vol-value').textContent = st.audio.volume;
  for (const b of document.querySelectorAll('.layout')) b.setAttribute('aria-checked', String(b.dataset.layout === call.layout));
  $('camera-card').hidden = st.camera.control === 'none';
}

function participant(p) {
  const li = document.createElement('li');
  li.dataset.speaking = String(!!p.speaking);
  li.dataset.id = p.id;
  const name = document.createElement('span');
  name.textContent = p.name || 'Guest';
  const state = document.createElement('span');
  state.className = 'state';
  state.textContent = [p.mic_muted ? 'mic muted' : 'mic on', p.camera_muted ? 'camera off' : '', p.speaking ? 'speaking' : ''].filter(Boolean).join(' · ');
  li.append(name, state);
  return li;
}

function emptyItem() {
  const li = document.createElement('li');
  li.textContent = 'Nobody else has joined yet.';
  return li;
}

function setPressed(b, on, onLabel, offLabel) {
  b.setAttribute('aria-pressed', String(!!on));
  b.textContent = on ? onLabel : offLabel;
}

function renderSetup(st) {
  const p = st.pairing;
  const facts = [
    ['Room', p.name || '—'],
    ['Pairing', p.state + (p.code ? ` (code ${p.code})` : '')],
    ['Portal', (p.portal || '—') + (p.state === 'paired' ? (p.online ? ' · connected' : ' · unreachable') : '')],
    ['Host name', st.network.hostname || '—'],
    ['Addresses', (st.network.addresses || []).join(', ') || '—'],
    ['Board', st.versions.board || '—'],
    ['Firmware', st.versions.firmware || '—'],
    ['Camera control', st.camera.control],
    ['Health', st.health.ok ? 'OK' : (st.health.problems || []).join('; ')],
    ['This panel', ui.session ? `${ui.session.name}${ui.session.local ? ' (on the device)' : ''}` : '—'],
  ];
  $('setup-list').replaceChildren(...facts.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    return [dt, dd];
  }));
}

// --- commands ---

async function run(name, args) {
  try {
    return await ui.conn.send(name, args);
  } catch (e) {
    banner(e.message);
    setTimeout(() => { if (ui.link === 'open') banner(''); }, 5000);
    return undefined;
  }
}

$('join-default').addEventListener('click', () => run('join'));
$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const args = { meeting_id: $('join-id').value.replace(/[\s-]/g, '') };
  const pin = $('join-pin').value.trim();
  if (pin) args.pin = pin;
  run('join', args);
});
$('mic').addEventListener('click', () => run('mic', { action: 'toggle' }));
$('cam').addEventListener('click', () => run('camera', { action: 'toggle' }));
$('vol').addEventListener('change', () => run('volume', { level: $('vol').value }));
$('vol-up').addEventListener('click', () => run('volume', { level: 'up' }));
$('vol-down').addEventListener('click', () => run('volume', { level: 'down' }));
for (const b of document.querySelectorAll('.layout')) b.addEventListener('click', () => run('layout', { layout: b.dataset.layout }));
$('preset-store').addEventListener('click', () => {
  const b = $('preset-store');
  b.setAttribute('aria-pressed', String(b.getAttribute('aria-pressed') !== 'true'));
});
for (const b of document.querySelectorAll('.preset')) {
  b.addEventListener('click', () => {
    const store = $('preset-store').getAttribute('aria-pressed') === 'true';
    $('preset-store').setAttribute('aria-pressed', 'false');
    run('preset', { action: store ? 'store' : 'recall', n: b.dataset.n });
  });
}
// Press and hold moves the camera; releasing (or leaving the button) stops it. Keyboard: a key
// press moves while held too.
for (const b of document.querySelectorAll('[data-ptz]')) {
  const start = (ev) => { ev.preventDefault(); b.setPointerCapture?.(ev.pointerId); run('ptz', { action: b.dataset.ptz, speed: b.dataset.speed }); };
  const stop = () => run('ptz', { action: 'stop' });
  b.addEventListener('pointerdown', start);
  b.addEventListener('pointerup', stop);
  b.addEventListener('pointercancel', stop);
  b.addEventListener('keydown', (ev) => { if ((ev.key === 'Enter' || ev.key === ' ') && !ev.repeat) run('ptz', { action: b.dataset.ptz, speed: b.dataset.speed }); });
  b.addEventListener('keyup', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') stop(); });
}
$('leave').addEventListener('click', () => $('confirm-leave').showModal());
$('confirm-no').addEventListener('click', () => $('confirm-leave').close());
$('confirm-yes').addEventListener('click', () => { $('confirm-leave').close(); run('leave'); });
$('go-setup').addEventListener('click', () => { ui.view = 'setup'; if (ui.st) render(ui.st); });
$('error-setup').addEventListener('click', () => { ui.view = 'setup'; if (ui.st) render(ui.st); });
$('setup-back').addEventListener('click', () => { ui.view = 'home'; if (ui.st) render(ui.st); });
$('error-ok').addEventListener('click', () => { if (ui.st) { ui.dismissedFailure = ui.st.call.error; render(ui.st); } });
$('go-standby').addEventListener('click', () => run('standby'));
$('wake').addEventListener('click', () => run('wake'));

function tick() {
  $('home-clock').textContent = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}
tick();
setInterval(tick, 15000);
show('loading');
checkSession();

// The WebSocket to the room's device API: status and events in, commands out, reconnecting
// by itself with a capped backoff.
import { applyChanges } from './status.js';

export class RoomConnection {
  constructor({ onStatus, onEvent, onState }) {
    this.onStatus = onStatus; this.onEvent = onEvent; this.onState = onState;
    this.ws = null; this.status = null; this.pending = new Map(); this.seq = 0;
    this.backoff = 250; this.closed = false;
  }

  open() {
    this.closed = false;
    const ws = new WebSocket(`wss://${location.host}/api/ws`);
    this.ws = ws;
    let opened = false;
    ws.onopen = () => { opened = true; this.backoff = 250; this.onState('open'); };
    ws.onmessage = (m) => this.handle(JSON.parse(m.data));
    ws.onclose = () => {
      for (const p of this.pending.values()) p.reject(new Error('The connection to the room was lost.'));
      this.pending.clear();
      if (this.ws !== ws || this.closed) return;
      this.ws = null;
      this.onState(opened ? 'lost' : 'refused');
      setTimeout(() => { if (!this.closed) this.open(); }, this.backoff);
      this.backoff = Math.min(this.backoff * 2, 4000);
    };
  }

  close() { this.closed = true; if (this.ws) this.ws.close(); this.ws = null; }

  handle(msg) {
    if (msg.status) {
      this.status = msg.status;
      this.onStatus(this.status);
    } else if (msg.event) {
      if (msg.event.type === 'status' && this.status) {
        applyChanges(this.status, msg.event.data.changed);
        this.onStatus(this.status);
      }
      this.onEvent(msg.event);
    } else if (msg.reply) {
      const p = this.pending.get(msg.reply.id);
      if (!p) return;
      this.pending.delete(msg.reply.id);
      if (msg.reply.ok) p.resolve(msg.reply.result); else p.reject(new Error(msg.reply.error || 'The room refused.'));
    }
  }

  // send runs a command on the room; it resolves with the result or rejects with the room's error.
  send(name, args) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error('Not connected to the room; reconnecting.'));
        return;
      }
      const id = String(++this.seq);
      this.pending.set(id, { resolve, reject });
      const cmd = { id, name };
      if (args && Object.keys(args).length) cmd.args = args;
      this.ws.send(JSON.stringify(cmd));
    });
  }
}

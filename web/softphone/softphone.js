// Parley softphone: an agent's WebRTC phone for the agent desktop.
//
//   import { Softphone } from "/static/softphone.js";
//   const phone = new Softphone({ agent: "a1", token: "…" });
//   phone.addEventListener("incoming", (e) => phone.answer(e.detail.callId));
//   await phone.connect();
//
// or declaratively: <parley-softphone agent="a1" token="…" auto-answer></parley-softphone>
// (the element renders status and Answer/Reject/Hang up/Mute buttons; its
// .phone property is the Softphone).
//
// Signalling is JSON over the WebSocket /softphone/ws?agent=ID&token=T (see
// gateway/webrtc; the token is the agent desktop's, from routing-agent-tokens,
// and may be omitted on a node without tokens, from loopback only):
// register → registered (or error "unauthorized", and no reconnecting); the gateway sends offer {call_id, ref, sdp}; the
// phone answers or rejects; both sides trickle candidates; either hangs up.

const STATES = ["disconnected", "registering", "idle", "ringing", "connecting", "in-call"];

export class Softphone extends EventTarget {
  // options: agent (required), token (the agent's desktop token, when the
  // node has tokens), url (default ws(s)://<host>/softphone/ws),
  // iceServers (default: fetched from /call/config), audio (an <audio>
  // element for the customer's voice; one is created when omitted),
  // autoAnswer (answer offers at once), reconnectMs (default 3000; 0 disables).
  constructor(options = {}) {
    super();
    if (!options.agent) throw new Error("Softphone: options.agent is required");
    this.agent = options.agent;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const u = new URL(options.url || `${proto}//${location.host}/softphone/ws`, location.href);
    u.searchParams.set("agent", this.agent);
    if (options.token) u.searchParams.set("token", options.token);
    this.url = u.toString();
    this.iceServers = options.iceServers || null;
    this.audio = options.audio || Object.assign(document.createElement("audio"), { autoplay: true });
    this.autoAnswer = !!options.autoAnswer;
    this.reconnectMs = options.reconnectMs ?? 3000;
    this.state = "disconnected";
    this.call = null;     // { id, ref, pc, stream, pending: [], remoteSet }
    this.offer = null;    // the ringing offer message
    this.muted = false;
    this.ws = null;
    this._closed = false;
  }

  _emit(type, detail = {}) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  _setState(s) {
    if (this.state === s) return;
    this.state = s;
    this._emit("state", { state: s });
  }

  _send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  // connect opens the socket and registers the agent; resolves when registered.
  async connect() {
    this._closed = false;
    if (!this.iceServers) {
      try {
        const r = await fetch("/call/config", { cache: "no-store" });
        this.iceServers = r.ok ? ((await r.json()).ice_servers || []) : [];
      } catch (e) { this.iceServers = []; }
    }
    return new Promise((resolve, reject) => {
      this._setState("registering");
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let registered = false;
      ws.onopen = () => this._send({ type: "register", agent: this.agent });
      // Messages are handled one after another (an offer before its candidates).
      let queue = Promise.resolve();
      ws.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        if (m.type === "registered") { registered = true; this._setState("idle"); this._emit("registered", { agent: m.agent }); resolve(); return; }
        if (m.type === "error" && !registered) {
          // Wrong credentials will not get better by retrying.
          if (m.code === "unauthorized") this._closed = true;
          reject(new Error(`${m.code}: ${m.error}`));
        }
        queue = queue.then(() => this._onMessage(m)).catch((e) => this._emit("error", { code: "page", error: String(e) }));
      };
      ws.onclose = () => {
        if (this.ws !== ws) return;
        this._endCall("softphone disconnected", false);
        this._setState("disconnected");
        if (!registered) reject(new Error("softphone: could not connect to " + this.url.replace(/token=[^&]*/, "token=…")));
        if (!this._closed && this.reconnectMs > 0) setTimeout(() => { if (!this._closed) this.connect().catch(() => {}); }, this.reconnectMs);
      };
    });
  }

  async _onMessage(m) {
    switch (m.type) {
      case "offer":
        if (this.call || this.offer) { this._send({ type: "reject", call_id: m.call_id, reason: "busy" }); return; }
        this.offer = { ...m, pending: [] };
        this._setState("ringing");
        this._emit("incoming", { callId: m.call_id, ref: m.ref });
        if (this.autoAnswer) this.answer(m.call_id).catch((e) => this._emit("error", { code: "failed", error: e.message }));
        break;
      case "candidate":
        if (!m.candidate) return;
        if (this.call && this.call.id === m.call_id && this.call.remoteSet) await this.call.pc.addIceCandidate(m.candidate);
        else if (this.offer && this.offer.call_id === m.call_id) this.offer.pending.push(m.candidate);
        else if (this.call && this.call.id === m.call_id) this.call.pending.push(m.candidate);
        break;
      case "state":
        if (m.state === "answered" && this.call) { this._setState("in-call"); this._emit("answered", { callId: m.call_id, ref: this.call.ref }); }
        break;
      case "hangup":
        if (this.offer && this.offer.call_id === m.call_id) { this.offer = null; this._setState("idle"); this._emit("ended", { callId: m.call_id, reason: m.reason || "cancelled" }); }
        else if (this.call && this.call.id === m.call_id) this._endCall(m.reason || "hung up", false);
        break;
      case "error":
        this._emit("error", { code: m.code, error: m.error, callId: m.call_id });
        break;
    }
  }

  // answer takes the ringing call (callId optional).
  async answer(callId) {
    const o = this.offer;
    if (!o || (callId && callId !== o.call_id)) throw new Error("softphone: no ringing call " + (callId || ""));
    this.offer = null;
    this._setState("connecting");
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const pc = new RTCPeerConnection({ iceServers: this.iceServers || [] });
    const call = { id: o.call_id, ref: o.ref, pc, stream, pending: [], remoteSet: false };
    this.call = call;
    pc.ontrack = (ev) => {
      const s = ev.streams[0] || new MediaStream([ev.track]);
      this.audio.srcObject = s;
      this.audio.play().catch(() => {});
      call.remoteStream = s;
    };
    pc.onicecandidate = (ev) => this._send({ type: "candidate", call_id: call.id, candidate: ev.candidate ? ev.candidate.toJSON() : undefined });
    pc.onconnectionstatechange = () => { if (pc.connectionState === "failed") this.hangup("media failed"); };
    await pc.setRemoteDescription({ type: "offer", sdp: o.sdp });
    call.remoteSet = true;
    pc.addTrack(stream.getAudioTracks()[0], stream);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    this._send({ type: "answer", call_id: call.id, sdp: pc.localDescription.sdp });
    for (const c of o.pending.concat(call.pending)) await pc.addIceCandidate(c);
    call.pending = [];
  }

  // reject declines the ringing call.
  reject(callId, reason = "rejected") {
    const o = this.offer;
    if (!o || (callId && callId !== o.call_id)) return;
    this.offer = null;
    this._send({ type: "reject", call_id: o.call_id, reason });
    this._setState("idle");
  }

  // hangup ends the current call.
  hangup(reason = "hangup") {
    if (this.offer) { this.reject(this.offer.call_id); return; }
    this._endCall(reason, true);
  }

  // mute stops (true) or resumes (false) sending the agent's microphone.
  mute(on = true) {
    this.muted = !!on;
    if (this.call) this.call.stream.getAudioTracks().forEach((t) => (t.enabled = !this.muted));
    this._emit("mute", { muted: this.muted });
  }

  // sendDTMF sends a key to the call (RFC 4733 when negotiated, else signalling).
  sendDTMF(digit) {
    if (!this.call) return;
    const sender = this.call.pc.getSenders().find((s) => s.track && s.track.kind === "audio");
    if (sender && sender.dtmf && sender.dtmf.canInsertDTMF) sender.dtmf.insertDTMF(digit, 100, 70);
    else this._send({ type: "dtmf", call_id: this.call.id, digit });
  }

  _endCall(reason, tellServer) {
    const c = this.call;
    if (!c) return;
    this.call = null;
    if (tellServer) this._send({ type: "hangup", call_id: c.id, reason });
    c.pc.close();
    c.stream.getTracks().forEach((t) => t.stop());
    this.audio.srcObject = null;
    if (this.state !== "disconnected") this._setState("idle");
    this._emit("ended", { callId: c.id, ref: c.ref, reason });
  }

  // close hangs up, unregisters and stops reconnecting.
  close() {
    this._closed = true;
    this.hangup("softphone closed");
    if (this.ws) this.ws.close();
    this._setState("disconnected");
  }
}

Softphone.STATES = STATES;

// <parley-softphone agent="a1" [auto-answer]>: a minimal phone UI.
export class SoftphoneElement extends HTMLElement {
  connectedCallback() {
    if (this.phone) return;
    this.phone = new Softphone({ agent: this.getAttribute("agent"), token: this.getAttribute("token") || undefined, autoAnswer: this.hasAttribute("auto-answer") });
    this.innerHTML = `<div class="parley-softphone">
      <span data-role="status">disconnected</span>
      <button type="button" data-act="answer" disabled>Answer</button>
      <button type="button" data-act="reject" disabled>Reject</button>
      <button type="button" data-act="hangup" disabled>Hang up</button>
      <button type="button" data-act="mute" disabled aria-pressed="false">Mute</button></div>`;
    this.append(this.phone.audio);
    const btn = (a) => this.querySelector(`[data-act="${a}"]`);
    const render = () => {
      const s = this.phone.state;
      this.querySelector('[data-role="status"]').textContent = s === "disconnected" && this.refused ? "not authorized: " + this.refused : s;
      btn("answer").disabled = btn("reject").disabled = s !== "ringing";
      btn("hangup").disabled = btn("mute").disabled = !(s === "in-call" || s === "connecting");
      btn("mute").textContent = this.phone.muted ? "Unmute" : "Mute";
      btn("mute").setAttribute("aria-pressed", String(this.phone.muted));
    };
    this.phone.addEventListener("error", (e) => { if (e.detail.code === "unauthorized") { this.refused = e.detail.error; render(); } });
    for (const ev of ["state", "mute"]) this.phone.addEventListener(ev, render);
    btn("answer").onclick = () => this.phone.answer().catch((e) => console.error(e));
    btn("reject").onclick = () => this.phone.reject();
    btn("hangup").onclick = () => this.phone.hangup();
    btn("mute").onclick = () => this.phone.mute(!this.phone.muted);
    this.phone.connect().catch((e) => console.error(e));
  }
  disconnectedCallback() { if (this.phone) this.phone.close(); }
}

if (!customElements.get("parley-softphone")) customElements.define("parley-softphone", SoftphoneElement);

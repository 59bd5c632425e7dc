// Caller page: dials an extension of this Parley node over WebRTC.
// Signalling is JSON over the WebSocket /call/ws (see gateway/webrtc).
// window.parleyCall exposes the live call (pc, streams, state) for
// diagnostics and automated tests.

const $ = (id) => document.getElementById(id);
const statusEl = $("status");
const ext = $("extension");
const callBtn = $("call"), hangupBtn = $("hangup"), muteBtn = $("mute");
const remoteAudio = $("remote");

let iceServers = [];
let call = null;

function setStatus(s) {
  statusEl.textContent = s;
  if (window.parleyCall) window.parleyCall.state = s;
}

async function loadConfig() {
  let cfg = { ice_servers: [], extensions: [] };
  try {
    const r = await fetch("/call/config", { cache: "no-store" });
    if (r.ok) cfg = await r.json();
  } catch (e) { /* keep defaults */ }
  iceServers = cfg.ice_servers || [];
  const names = (cfg.extensions && cfg.extensions.length) ? cfg.extensions : ["echo", "playback", "record"];
  ext.replaceChildren(...names.map((n) => new Option(n, n)));
  const wanted = new URLSearchParams(location.search).get("extension");
  if (wanted && !names.includes(wanted)) ext.append(new Option(wanted, wanted)); // e.g. an agent's extension
  if (wanted) ext.value = wanted;
}

function buildKeypad() {
  for (const d of "123456789*0#") {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = d;
    b.dataset.digit = d;
    b.disabled = true;
    b.addEventListener("click", () => sendDigit(d));
    $("keypad").append(b);
  }
}

function setInCall(on) {
  callBtn.disabled = on;
  ext.disabled = on;
  hangupBtn.disabled = !on;
  muteBtn.disabled = !on;
  for (const b of $("keypad").querySelectorAll("button")) b.disabled = !on;
}

function send(msg) {
  if (call && call.ws.readyState === WebSocket.OPEN) call.ws.send(JSON.stringify(msg));
}

async function startCall() {
  setInCall(true);
  setStatus("getting microphone");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  } catch (e) {
    setStatus("microphone unavailable: " + e.message);
    setInCall(false);
    return;
  }
  const pc = new RTCPeerConnection({ iceServers });
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/call/ws`);
  const remoteStream = new MediaStream();
  call = { pc, ws, localStream: stream, remoteStream, id: null, pendingRemote: [], remoteSet: false, muted: false };
  window.parleyCall = { pc, localStream: stream, remoteStream, callId: null, state: "", keys: "", errors: [] };
  const sender = pc.addTrack(stream.getAudioTracks()[0], stream);
  call.sender = sender;

  pc.ontrack = (ev) => {
    remoteStream.addTrack(ev.track);
    remoteAudio.srcObject = remoteStream;
    remoteAudio.play().catch(() => {});
  };
  pc.onicecandidate = (ev) => send({ type: "candidate", call_id: call && call.id || undefined, candidate: ev.candidate ? ev.candidate.toJSON() : undefined });
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "failed") { setStatus("media failed"); endCall(false); }
  };

  ws.onopen = async () => {
    setStatus("calling " + ext.value);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    send({ type: "offer", extension: ext.value, sdp: pc.localDescription.sdp });
  };
  // Messages are handled one after another: an answer must be applied
  // before the candidates and state that follow it.
  let queue = Promise.resolve();
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    queue = queue.then(() => handle(m)).catch((e) => {
      window.parleyCall.errors.push({ code: "page", error: String(e) });
    });
  };
  const handle = async (m) => {
    if (!call || call.ws !== ws) return;
    switch (m.type) {
      case "answer":
        call.id = m.call_id;
        window.parleyCall.callId = m.call_id;
        $("callid").textContent = m.call_id;
        setStatus("connecting");
        await pc.setRemoteDescription({ type: "answer", sdp: m.sdp });
        call.remoteSet = true;
        for (const c of call.pendingRemote) await pc.addIceCandidate(c);
        call.pendingRemote = [];
        break;
      case "candidate":
        if (!m.candidate) break; // end of the gateway's candidates
        if (call.remoteSet) await pc.addIceCandidate(m.candidate);
        else call.pendingRemote.push(m.candidate);
        break;
      case "state":
        if (m.state === "answered") setStatus("in call");
        break;
      case "hangup":
        setStatus("call ended" + (m.reason ? ": " + m.reason : ""));
        endCall(false);
        break;
      case "error":
        window.parleyCall.errors.push(m);
        setStatus("error (" + m.code + "): " + m.error);
        if (!call.id || m.code !== "bad_message") endCall(false);
        break;
    }
  };
  ws.onclose = () => { if (call && call.ws === ws) { setStatus("disconnected"); endCall(false); } };
}

function endCall(tellServer) {
  if (!call) return;
  const c = call;
  call = null;
  if (tellServer && c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify({ type: "hangup", call_id: c.id || undefined }));
  c.ws.close();
  c.pc.close();
  c.localStream.getTracks().forEach((t) => t.stop());
  setInCall(false);
  muteBtn.textContent = "Mute";
  muteBtn.setAttribute("aria-pressed", "false");
}

function sendDigit(d) {
  if (!call) return;
  const dtmf = call.sender && call.sender.dtmf;
  if (dtmf && dtmf.canInsertDTMF) dtmf.insertDTMF(d, 100, 70); // RFC 4733 in the media
  else send({ type: "dtmf", call_id: call.id, digit: d });     // signalling fallback
  window.parleyCall.keys += d;
  $("keys").textContent = window.parleyCall.keys;
}

callBtn.addEventListener("click", startCall);
hangupBtn.addEventListener("click", () => { endCall(true); setStatus("hung up"); });
muteBtn.addEventListener("click", () => {
  if (!call) return;
  call.muted = !call.muted;
  call.localStream.getAudioTracks().forEach((t) => (t.enabled = !call.muted));
  muteBtn.textContent = call.muted ? "Unmute" : "Mute";
  muteBtn.setAttribute("aria-pressed", String(call.muted));
});

buildKeypad();
loadConfig().then(() => { window.parleyReady = true; });

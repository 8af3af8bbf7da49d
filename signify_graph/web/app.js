// signify-graph demo page: webcam → binary JPEG frames over one WebSocket → the letter.
// Protocol: docs/PROTOCOL.md. Plain JavaScript, no build step.
"use strict";

(() => {
  const FRAME_WIDTH = 640; // px, as the first Signify app sends
  const JPEG_QUALITY = 0.7;
  // At most one frame in flight. Replies are throttled (the server answers only on change,
  // or every heartbeat), so the next frame goes when a reply arrives or after this timeout.
  const FALLBACK_MS = 150;
  const MIN_FRAME_MS = 66; // ≤ 15 frames/s, well under the server's rate limit
  const HIT_PROB = 0.6;
  const HIT_HOLD_MS = 1000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  const LANDMARKS_TTL_MS = 1500;
  const MAX_ERRORS = 5;
  const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  // MediaPipe's 21-point hand: wrist, then four joints per finger from the thumb.
  const BONES = [
    [0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [5, 9], [9, 10],
    [10, 11], [11, 12], [9, 13], [13, 14], [14, 15], [15, 16], [13, 17], [17, 18],
    [18, 19], [19, 20], [0, 17],
  ];
  const STATUS_TEXT = {
    connecting: "connecting…",
    connected: "connected",
    ok: "connected · hand found",
    no_hand: "no hand in view",
    warming_up: "warming up…",
    camera: "camera off",
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $("status"), video: $("video"), overlay: $("overlay"), viewport: $("viewport"),
    cameraOff: $("camera-off"), cameraMessage: $("camera-message"), startCamera: $("start-camera"),
    letter: $("letter"), announce: $("letter-announce"), confidence: $("confidence"),
    confidenceText: $("confidence-text"), top: $("top"), target: $("target"),
    targetMeter: $("target-meter"), targetName: $("target-name"), targetProb: $("target-prob"),
    targetProbText: $("target-prob-text"), hit: $("hit"), practiceHint: $("practice-hint"),
    errors: $("errors"), server: $("server"), rate: $("rate"),
    spelling: $("spelling"), text: $("text"), textValue: $("text-value"), pending: $("pending"),
    pendingProgress: $("pending-progress"), textAnnounce: $("text-announce"),
  };
  const capture = document.createElement("canvas");
  const captureCtx = capture.getContext("2d");
  const overlayCtx = el.overlay.getContext("2d");

  const state = {
    ws: null, attempts: 0, reconnectTimer: 0, reconnectAt: 0,
    stream: null, inflight: false, lastSend: 0, sendTimer: 0, fallbackTimer: 0,
    target: null, aboveSince: null, hitShown: false, hits: 0, hitTimer: 0,
    landmarks: null, landmarksAt: 0, stableLetter: null, stableSince: 0, announced: null,
    sent: 0, replies: 0, errors: [],
  };

  // -- where to connect ------------------------------------------------------------------
  function serverUrl() {
    const query = new URLSearchParams(location.search);
    const fallback = location.protocol === "file:" ? "ws://localhost:8765/" : "/";
    const url = new URL(query.get("server") || fallback, location.href);
    const secure = url.protocol === "https:" || url.protocol === "wss:";
    url.protocol = secure ? "wss:" : "ws:"; // wss: whenever the page came over https
    const token = query.get("token");
    if (token) url.searchParams.set("token", token);
    return url;
  }
  const WS_URL = serverUrl();
  el.server.textContent = `server ${WS_URL.host}`;

  // -- status and errors -----------------------------------------------------------------
  function setStatus(kind, text) {
    el.status.dataset.state = kind;
    el.status.textContent = text || STATUS_TEXT[kind] || kind;
  }

  function showError(code, message) {
    const last = state.errors[0];
    if (last && last.code === code && last.message === message) {
      last.count += 1;
      last.at = new Date();
    } else {
      state.errors.unshift({ code, message, count: 1, at: new Date() });
      state.errors.length = Math.min(state.errors.length, MAX_ERRORS);
    }
    el.errors.replaceChildren(
      ...state.errors.map((e) => {
        const item = document.createElement("p");
        item.className = "error";
        item.dataset.code = code;
        const name = document.createElement("code");
        name.textContent = e.code;
        const times = e.count > 1 ? ` (×${e.count})` : "";
        item.append(name, ` ${e.message || ""}${times} · ${e.at.toLocaleTimeString()}`);
        return item;
      }),
    );
  }

  const CLOSE_TEXT = {
    1001: "the server is restarting",
    1008: "refused by the server",
    1009: "a frame was too large for the server",
    1011: "the server closed the session after an error",
    1013: "the server is busy",
  };

  // Why did a connection fail before it opened? The handshake's HTTP refusal (503 not ready
  // or full, 401, 403) is invisible to a WebSocket: ask /ready on the same host.
  async function diagnose() {
    const http = new URL(WS_URL);
    http.protocol = http.protocol === "wss:" ? "https:" : "http:";
    http.pathname = "/ready";
    http.search = "";
    try {
      const response = await fetch(http, { cache: "no-store" });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        showError("not_ready", `the server is ${body.phase || "not ready"} (HTTP ${response.status})`);
      } else {
        showError("connect_failed", "the server refused the connection (full, token or origin)");
      }
    } catch (err) {
      showError("unreachable", `cannot reach ${http.host}`);
    }
  }

  // -- the WebSocket, with exponential backoff -------------------------------------------
  function connect() {
    clearTimeout(state.reconnectTimer);
    setStatus("connecting", state.attempts ? "reconnecting…" : "connecting…");
    let ws;
    try {
      ws = new WebSocket(WS_URL);
    } catch (err) {
      showError("bad_url", `${WS_URL}: ${err.message}`);
      return;
    }
    ws.binaryType = "arraybuffer";
    state.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      state.attempts = 0;
      state.inflight = false;
      if (state.stream) setStatus("connected", "connected · waiting for the first reply");
      if (state.target) sendJson({ type: "reset", target: state.target });
      scheduleFrame(0);
    };
    ws.onmessage = (event) => onMessage(event.data);
    ws.onclose = (event) => {
      if (state.ws !== ws) return;
      state.ws = null;
      state.inflight = false;
      state.aboveSince = null;
      clearTimeout(state.fallbackTimer);
      if (CLOSE_TEXT[event.code] || event.reason) {
        showError(`close_${event.code}`, event.reason || CLOSE_TEXT[event.code]);
      }
      if (!opened) diagnose();
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** state.attempts);
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2; // jitter: clients don't stampede
    state.attempts += 1;
    state.reconnectAt = performance.now() + delay;
    state.reconnectTimer = setTimeout(connect, delay);
    showReconnect();
  }

  function showReconnect() {
    if (state.ws || !state.reconnectAt) return;
    const left = Math.max(0, state.reconnectAt - performance.now()) / 1000;
    setStatus("reconnecting", `reconnecting in ${left.toFixed(1)} s`);
  }

  function sendJson(message) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
  }

  // -- camera and frames -----------------------------------------------------------------
  function cameraOff(message) {
    el.cameraMessage.textContent = message;
    el.cameraOff.hidden = false;
    setStatus("camera", message);
  }

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraOff("No camera here: a camera needs https:// or localhost.");
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
      });
      state.stream = stream;
      el.video.srcObject = stream;
      await el.video.play().catch(() => {});
      const track = stream.getVideoTracks()[0];
      const facing = track && track.getSettings ? track.getSettings().facingMode : undefined;
      // Selfie view: mirror what the user sees (frames go to the server unmirrored).
      el.viewport.classList.toggle("mirrored", facing !== "environment");
      el.cameraOff.hidden = true;
      if (track) track.addEventListener("ended", () => cameraOff("The camera stopped."));
      if (state.ws && state.ws.readyState === WebSocket.OPEN) setStatus("connected");
      scheduleFrame(0);
    } catch (err) {
      const why = err.name === "NotAllowedError" ? "permission was denied" : err.message || err.name;
      cameraOff(`Camera unavailable: ${why}.`);
    }
  }

  el.video.addEventListener("loadedmetadata", () => {
    const { videoWidth: w, videoHeight: h } = el.video;
    if (w && h) {
      el.viewport.style.aspectRatio = `${w} / ${h}`;
      el.overlay.width = w;
      el.overlay.height = h;
    }
  });

  function scheduleFrame(delay) {
    clearTimeout(state.sendTimer);
    state.sendTimer = setTimeout(sendFrame, Math.max(0, delay));
  }

  function sendFrame() {
    const ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !state.stream || state.inflight) return;
    const video = el.video;
    if (video.readyState < 2 || !video.videoWidth) return scheduleFrame(50);
    if (document.hidden) return scheduleFrame(250); // no frames from a background tab
    const width = Math.min(FRAME_WIDTH, video.videoWidth);
    // Keep the camera's aspect: the server reads width/height from the JPEG itself. A client that
    // runs MediaPipe on the device and sends {"type": "landmarks"} must send "aspect" (width /
    // height) with them instead: x is divided by the width, y by the height (docs/PROTOCOL.md,
    // "Landmark clients: send the aspect"); read as square, 16:9 landmarks lose about a point.
    const height = Math.round((width * video.videoHeight) / video.videoWidth);
    if (capture.width !== width || capture.height !== height) {
      capture.width = width;
      capture.height = height;
    }
    captureCtx.drawImage(video, 0, 0, width, height);
    state.inflight = true;
    capture.toBlob(
      (blob) => {
        if (!blob || state.ws !== ws || ws.readyState !== WebSocket.OPEN) {
          state.inflight = false;
          return scheduleFrame(100);
        }
        ws.send(blob); // a binary frame: raw JPEG bytes, no base64, no JSON
        state.sent += 1;
        state.lastSend = performance.now();
        clearTimeout(state.fallbackTimer);
        state.fallbackTimer = setTimeout(frameDone, FALLBACK_MS);
      },
      "image/jpeg",
      JPEG_QUALITY,
    );
  }

  // A reply (or the fallback timeout) frees the slot; frames stay ≥ MIN_FRAME_MS apart.
  function frameDone() {
    clearTimeout(state.fallbackTimer);
    if (!state.inflight) return;
    state.inflight = false;
    scheduleFrame(state.lastSend + MIN_FRAME_MS - performance.now());
  }

  // -- replies -----------------------------------------------------------------------------
  function onMessage(data) {
    if (typeof data !== "string") {
      showError("unexpected_binary", "the server sent a binary message");
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch (err) {
      showError("bad_reply", "the server sent something that is not JSON");
      return;
    }
    if (message.error !== undefined) {
      const error = typeof message.error === "object" && message.error !== null
        ? message.error
        : { code: "error", message: String(message.error) };
      showError(error.code || "error", error.message || "");
      frameDone();
    } else if (message.ack === "reset") {
      onAck(message);
    } else if (message.ack === "text") {
      renderText(message.text, null);
    } else if ("maxarg_letter" in message || "status" in message) {
      onReply(message);
      frameDone();
    }
  }

  function percent(p) {
    return `${Math.round(Math.max(0, Math.min(1, p)) * 100)} %`;
  }

  function setMeter(bar, text, p) {
    bar.value = Math.max(0, Math.min(1, p));
    bar.textContent = percent(p);
    text.textContent = percent(p);
  }

  function onReply(reply) {
    state.replies += 1;
    const status = reply.status || (reply.maxarg_letter ? "ok" : "no_hand");
    const letter = reply.letter ?? reply.maxarg_letter ?? null;
    el.letter.textContent = status === "no_hand" || !letter ? "–" : letter;
    el.letter.dataset.letter = status === "no_hand" ? "" : letter || "";
    el.letter.dataset.status = status;
    el.letter.dataset.seq = reply.seq ?? "";
    el.letter.classList.toggle("dim", status !== "ok");
    let confidence = typeof reply.confidence === "number" ? reply.confidence : null;
    if (confidence === null && !reply.target) confidence = reply.target_arg_prob;
    setMeter(el.confidence, el.confidenceText, status === "no_hand" ? 0 : confidence || 0);
    renderTop(status === "no_hand" ? [] : reply.top || []);
    if (Array.isArray(reply.landmarks) && reply.landmarks.length === 21) {
      state.landmarks = reply.landmarks;
      state.landmarksAt = performance.now();
    } else if (status === "no_hand") {
      state.landmarks = null;
    }
    drawLandmarks();
    setStatus(status);
    if (state.target && reply.target === state.target) {
      updatePractice(typeof reply.target_arg_prob === "number" ? reply.target_arg_prob : 0, status);
    }
    trackStable(status === "ok" ? letter : null);
    if (typeof reply.text === "string") renderText(reply.text, reply.pending);
  }

  // -- spelled text (a pipeline with a spell node; protocol 1.1) ---------------------------
  function renderText(text, pending) {
    el.spelling.hidden = false;
    if (typeof text === "string" && text !== el.text.dataset.text) {
      el.text.dataset.text = text;
      el.textValue.textContent = text;
      el.textAnnounce.textContent = text.trim() ? `Spelled: ${text}` : "Text cleared.";
    }
    const letter = pending && typeof pending.letter === "string" ? pending.letter : "";
    const progress = letter ? Math.max(0, Math.min(1, Number(pending.progress) || 0)) : 0;
    el.pending.textContent = letter;
    el.pending.style.opacity = String(0.35 + 0.65 * progress);
    el.pendingProgress.value = progress;
    el.pendingProgress.textContent = percent(progress);
  }

  el.spelling.addEventListener("click", (event) => {
    const action = event.target instanceof HTMLElement ? event.target.dataset.action : undefined;
    if (action) sendJson({ type: "text", action });
  });

  function renderTop(top) {
    el.top.replaceChildren(
      ...top.slice(0, 3).map(({ letter, p }) => {
        const item = document.createElement("li");
        item.textContent = `${letter} ${percent(p)}`;
        return item;
      }),
    );
  }

  // Screen readers hear a letter once it has held for a moment, not every reply.
  function trackStable(letter) {
    const now = performance.now();
    if (letter !== state.stableLetter) {
      state.stableLetter = letter;
      state.stableSince = now;
    }
  }

  function announceStable() {
    const letter = state.stableLetter;
    if (letter && letter !== state.announced && performance.now() - state.stableSince > 800) {
      state.announced = letter;
      el.announce.textContent = `Letter ${letter}`;
    }
  }

  function drawLandmarks() {
    const { width, height } = el.overlay;
    overlayCtx.clearRect(0, 0, width, height);
    const points = state.landmarks;
    if (!points || performance.now() - state.landmarksAt > LANDMARKS_TTL_MS) return;
    const scale = Math.max(2, width / 160);
    overlayCtx.lineWidth = scale * 0.8;
    overlayCtx.strokeStyle = "rgba(255, 255, 255, 0.85)";
    overlayCtx.beginPath();
    for (const [a, b] of BONES) {
      overlayCtx.moveTo(points[a][0] * width, points[a][1] * height);
      overlayCtx.lineTo(points[b][0] * width, points[b][1] * height);
    }
    overlayCtx.stroke();
    overlayCtx.fillStyle = "#ffb000";
    for (const [x, y] of points) {
      overlayCtx.beginPath();
      overlayCtx.arc(x * width, y * height, scale * 1.4, 0, 2 * Math.PI);
      overlayCtx.fill();
    }
  }

  // -- practice mode -----------------------------------------------------------------------
  for (const letter of LETTERS) {
    const option = document.createElement("option");
    option.value = letter;
    option.textContent = letter;
    el.target.append(option);
  }

  el.target.addEventListener("change", () => {
    state.target = el.target.value || null;
    state.aboveSince = null;
    state.hitShown = false;
    state.hits = 0;
    el.hit.hidden = true;
    el.targetMeter.hidden = !state.target;
    el.practiceHint.hidden = !state.target;
    el.targetName.textContent = state.target || "";
    setMeter(el.targetProb, el.targetProbText, 0);
    sendJson({ type: "reset", target: state.target });
  });

  function onAck(ack) {
    if ((ack.target || null) !== state.target) return; // an older reset's acknowledgement
    el.practiceHint.textContent = ack.target
      ? `Practising ${ack.target}: hold it above ${HIT_PROB * 100} % for one second.`
      : "Free spelling.";
    el.practiceHint.hidden = false;
  }

  function updatePractice(p, status) {
    setMeter(el.targetProb, el.targetProbText, p);
    if (status === "ok" && p >= HIT_PROB) {
      if (state.aboveSince === null) state.aboveSince = performance.now();
    } else {
      state.aboveSince = null;
      state.hitShown = false; // drop below the threshold to score again
    }
    checkHit();
  }

  function checkHit() {
    if (!state.target || state.aboveSince === null || state.hitShown) return;
    if (performance.now() - state.aboveSince < HIT_HOLD_MS) return;
    state.hitShown = true;
    state.hits += 1;
    el.hit.textContent = `Hit! ${state.target} held for a second (${state.hits} so far).`;
    el.hit.hidden = false;
    clearTimeout(state.hitTimer);
    state.hitTimer = setTimeout(() => { el.hit.hidden = true; }, 2500);
  }

  // -- housekeeping ----------------------------------------------------------------------
  let lastSent = 0;
  let lastReplies = 0;
  setInterval(() => {
    el.rate.textContent = `${state.sent - lastSent} frames/s · ${state.replies - lastReplies} replies/s`;
    lastSent = state.sent;
    lastReplies = state.replies;
  }, 1000);
  setInterval(() => {
    checkHit();
    announceStable();
    showReconnect();
    if (state.landmarks && performance.now() - state.landmarksAt > LANDMARKS_TTL_MS) {
      state.landmarks = null;
      drawLandmarks();
    }
  }, 100);

  el.startCamera.addEventListener("click", startCamera);
  connect();
  startCamera();
})();

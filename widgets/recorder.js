// The browser half of widgets/recorder.py: microphone -> int16 PCM at the browser's own rate -> the kernel.
// Resampling to 16 kHz happens in Python (torchaudio's band-limited sinc): WebAudio's own resampling of a
// buffer source is not specified to be anti-aliased, and the kernel then sees exactly what the mic gave.

function wavBlob(int16, rate) {
  // a WAV header in front of the samples, so the <audio> element can play the take back
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset, s) => [...s].forEach((c, i) => header.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); header.setUint32(4, 36 + int16.byteLength, true); text(8, "WAVE");
  text(12, "fmt "); header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true);
  header.setUint32(24, rate, true); header.setUint32(28, rate * 2, true); header.setUint16(32, 2, true);
  header.setUint16(34, 16, true); text(36, "data"); header.setUint32(40, int16.byteLength, true);
  return new Blob([header, int16], { type: "audio/wav" });
}

function toInt16(chunks) {
  const length = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Int16Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const s = Math.max(-1, Math.min(1, chunk[i]));
      out[offset + i] = s < 0 ? s * 0x8000 : s * 0x7fff;
    }
    offset += chunk.length;
  }
  return out;
}

function microphoneProblem(error) {
  if (!window.isSecureContext || !navigator.mediaDevices) {
    return "This page may not use the microphone: browsers allow it only on https:// pages or on localhost.";
  }
  if (error && error.name === "NotAllowedError") {
    return "The microphone is blocked: allow it in the browser's address bar, then press Record again.";
  }
  if (error && error.name === "NotFoundError") return "No microphone was found.";
  return `The microphone could not be opened (${error && error.name}: ${error && error.message}).`;
}

function render({ model, el }) {
  el.classList.add("autoasr-recorder");
  el.innerHTML = `
    <div class="autoasr-recorder-prompt"></div>
    <div class="autoasr-recorder-row">
      <button class="autoasr-recorder-button jupyter-button mod-danger" title="Record from the microphone">● Record</button>
      <div class="autoasr-recorder-meter" title="input level"><div class="autoasr-recorder-level"></div></div>
      <span class="autoasr-recorder-status"></span>
    </div>
    <audio class="autoasr-recorder-player" controls></audio>`;
  const button = el.querySelector(".autoasr-recorder-button");
  const level = el.querySelector(".autoasr-recorder-level");
  const status = el.querySelector(".autoasr-recorder-status");
  const player = el.querySelector(".autoasr-recorder-player");
  const prompt = el.querySelector(".autoasr-recorder-prompt");
  let session = null; // {stream, context, chunks, rate, started, timer, frame}

  const showPrompt = () => { prompt.innerHTML = model.get("prompt"); prompt.style.display = model.get("prompt") ? "" : "none"; };
  const showStatus = () => { status.textContent = model.get("status"); };
  const showTake = () => {
    const view = model.get("pcm");
    const rate = model.get("sample_rate");
    if (!view || !view.byteLength || !rate) { player.style.display = "none"; return; }
    const int16 = new Int16Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
    if (player.src) URL.revokeObjectURL(player.src);
    player.src = URL.createObjectURL(wavBlob(int16, rate));
    player.style.display = "";
  };

  async function start() {
    let stream;
    try {
      if (!navigator.mediaDevices) throw null;
      // raw signal: echo cancellation and noise suppression change what the model hears between takes
      stream = await navigator.mediaDevices.getUserMedia(
        { audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    } catch (error) {
      model.set("status", microphoneProblem(error)); model.save_changes(); return;
    }
    const context = new AudioContext();
    await context.resume();
    const source = context.createMediaStreamSource(stream);
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    // ScriptProcessor is deprecated but needs no separate module file (an AudioWorklet would), and works in
    // every browser a classroom has; its output stays silent, so nothing is echoed to the speakers
    const processor = context.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    processor.onaudioprocess = (event) => chunks.push(new Float32Array(event.inputBuffer.getChannelData(0)));
    source.connect(analyser);
    source.connect(processor);
    processor.connect(context.destination);
    session = { stream, context, processor, chunks, rate: context.sampleRate, started: performance.now() };
    const samples = new Float32Array(analyser.fftSize);
    const draw = () => {
      if (!session) return;
      analyser.getFloatTimeDomainData(samples);
      let sum = 0, peak = 0;
      for (const s of samples) { sum += s * s; peak = Math.max(peak, Math.abs(s)); }
      const db = 20 * Math.log10(Math.sqrt(sum / samples.length) + 1e-9); // -60 dB .. 0 dB fills the bar
      level.style.width = `${Math.max(0, Math.min(100, (db + 60) * 100 / 60))}%`;
      level.classList.toggle("clipping", peak > 0.99);
      const seconds = (performance.now() - session.started) / 1000;
      status.textContent = `Recording… ${seconds.toFixed(1)} s — press Stop when done`;
      if (seconds >= model.get("max_seconds")) { stop(); return; }
      session.frame = requestAnimationFrame(draw);
    };
    button.textContent = "■ Stop";
    button.classList.add("recording");
    draw();
  }

  async function stop() {
    const current = session;
    session = null;
    cancelAnimationFrame(current.frame);
    current.processor.disconnect();
    current.stream.getTracks().forEach((track) => track.stop());
    await current.context.close();
    level.style.width = "0%";
    button.textContent = "● Record";
    button.classList.remove("recording");
    const int16 = toInt16(current.chunks);
    if (!int16.length) {
      model.set("status", "Nothing was recorded: is the microphone muted?"); model.save_changes(); return;
    }
    model.set("pcm", new DataView(int16.buffer));
    model.set("sample_rate", current.rate);
    model.set("status", `Recorded ${(int16.length / current.rate).toFixed(1)} s.`);
    model.set("take", model.get("take") + 1); // the kernel reacts to this one, after pcm and rate arrived
    model.save_changes();
  }

  button.addEventListener("click", () => (session ? stop() : start()));
  model.on("change:prompt", showPrompt);
  model.on("change:status", showStatus);
  model.on("change:take", showTake);
  showPrompt(); showStatus(); showTake();
  return () => { if (session) stop(); };
}

export default { render };

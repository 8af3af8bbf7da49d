// A client that behaves like the older Signify mobile app, written from its description in
// issue #22 (not from the app's code): base64 JSON text frames every 100 ms that never wait
// for a reply, letter targets (`new_word_letter`) or a word target (`new_word`), and a message
// handler that reads ONLY the app's field names:
//   shown  <- detected_word_letter
//   prob   <- target_lettr_prob, else target_word_prob, else 0
// The app counts a detection when `shown` is what it wants with `prob` above its threshold,
// twice in a row; this client does the same and exits 0 once it has, 1 if time runs out.
//
// Usage: node app-client.mjs '<JSON config>'
//   url        ws://127.0.0.1:PORT/ or …/ws
//   photos     JPEG paths, sent in turn, each for `ticks` frames (then the list repeats)
//   ticks      frames per photo (default 1)
//   letter     the target letter (letter mode), or null
//   word       the target word (word mode), or absent
//   expect     what `shown` must be (the letter; in word mode the word)
//   threshold  the probability `prob` must pass (default 0.5)
//   timeoutMs  give up after this long (default 20000)
// Prints one JSON line: {ok, url, detections, messages, undefinedShown, last}.
import { readFileSync } from "node:fs";
import WebSocket from "ws";

const config = JSON.parse(process.argv[2] ?? "{}");
const threshold = config.threshold ?? 0.5;
const ticks = config.ticks ?? 1;
const blobs = config.photos.map((path) => readFileSync(path).toString("base64"));
const wordMode = typeof config.word === "string";

const ws = new WebSocket(config.url);
let sent = 0;
let messages = 0;
let undefinedShown = 0;
let streak = 0;
let last = null;
let timer = null;

function finish(ok) {
  clearInterval(timer);
  console.log(JSON.stringify({ ok, url: config.url, sent, messages, undefinedShown, last }));
  ws.terminate();
  process.exit(ok ? 0 : 1);
}

ws.on("open", () => {
  // The app's reset: a null blob with the new target.
  const reset = wordMode
    ? { jpeg_blob: null, new_word: config.word }
    : { jpeg_blob: null, new_word_letter: config.letter ?? null };
  ws.send(JSON.stringify(reset));
  timer = setInterval(() => {
    const blob = blobs[Math.floor(sent / ticks) % blobs.length];
    // In word mode the app has no target letter: new_word_letter is null.
    const letter = wordMode ? null : (config.letter ?? null);
    ws.send(JSON.stringify({ jpeg_blob: blob, new_word_letter: letter }));
    sent += 1;
  }, 100);
});

ws.on("message", (data) => {
  messages += 1;
  const message = JSON.parse(data.toString());
  const shown = message.detected_word_letter;
  const prob = message.target_lettr_prob ?? message.target_word_prob ?? 0;
  if (shown === undefined) undefinedShown += 1;
  last = { shown: shown ?? null, prob };
  streak = shown === config.expect && prob > threshold ? streak + 1 : 0;
  if (streak >= 2) finish(true);
});

ws.on("error", (error) => {
  console.error(`app client: ${error.message}`);
  finish(false);
});
ws.on("close", () => finish(false));
setTimeout(() => finish(false), config.timeoutMs ?? 20000);

// A client that behaves like the older Signify mobile app, written from its description in
// issue #22 (not from the app's code): base64 JSON text frames every 100 ms that never wait
// for a reply, letter targets (`new_word_letter`) or a word target (`new_word`), and a message
// handler that reads ONLY the app's field names:
//   shown  <- detected_word_letter
//   prob   <- target_lettr_prob, else target_word_prob, else 0
// The app counts a detection when `shown` is what it wants with `prob` above its threshold,
// twice in a row; this client does the same and exits 0 once it has, 1 if time runs out.
// For the contract test it also notes what the app does not read: how many replies say
// `word_complete: true`, and the probability the app read in the first of them.
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
//   lingerMs   after the detection, go on sending for this long before exiting (default 0)
//   keep       true: return every message received, for the schema checks
// Prints one JSON line:
//   {ok, url, sent, messages, undefinedShown, acks, last, completions, completeProb, kept}.
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
let acks = 0;
let streak = 0;
let last = null;
let timer = null;
let detected = false;
let completions = 0;
let completeProb = null;
const kept = [];

let finished = false;
function finish(ok) {
  if (finished) return;
  finished = true;
  clearInterval(timer);
  const summary = { ok, url: config.url, sent, messages, undefinedShown, acks, last };
  Object.assign(summary, { completions, completeProb, kept: config.keep ? kept : undefined });
  ws.terminate();
  // Exit once the line is written: a piped stdout is asynchronous, and exiting at once would
  // cut a long summary short.
  process.stdout.write(`${JSON.stringify(summary)}\n`, () => process.exit(ok ? 0 : 1));
}

function detection() {
  // The app moves on at once; the test may watch a while longer (nothing more must complete).
  if (detected) return;
  detected = true;
  setTimeout(() => finish(true), config.lingerMs ?? 0);
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
  if (config.keep) kept.push(message);
  if (message.ack !== undefined) acks += 1; // the app reads these too: it would show undefined
  const shown = message.detected_word_letter;
  const prob = message.target_lettr_prob ?? message.target_word_prob ?? 0;
  if (shown === undefined) undefinedShown += 1;
  if (message.word_complete === true) {
    completions += 1;
    if (completeProb === null) completeProb = prob;
  }
  last = { shown: shown ?? null, prob };
  streak = shown === config.expect && prob > threshold ? streak + 1 : 0;
  if (streak >= 2) detection();
});

ws.on("error", (error) => {
  console.error(`app client: ${error.message}`);
  finish(false);
});
ws.on("close", () => finish(false));
setTimeout(() => finish(false), config.timeoutMs ?? 20000);

// An example client of `eager serve` in Node (the `ws` package): it streams a Python program the
// way a model writes it (small deltas, at a steady rate), prints every record the server sends as
// one JSON line, stops streaming at the first error with `stop: true` (where an agent would cancel
// its model request), and runs a second program on the same session to show that state persists.
// A `display` record (a figure, or in notebook mode a display(obj) or an expression's value) is
// printed with each MIME value over 200 characters (a base64 PNG, a large HTML table) shortened.
//
//   npm install && EAGER_TOKEN=secret node stream.mjs [ws://127.0.0.1:8765] [program.py] [--rate 200]
//
// Exit status: 0 when every program ran without error, 1 when one failed, 2 when the server
// refused the connection (e.g. HTTP 401: a missing or wrong token) or could not be reached.
import { readFileSync } from "node:fs";
import WebSocket from "ws";

const args = process.argv.slice(2);
let rate = 200; // characters per second (~50 tokens/s)
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--rate") rate = Number(args[++i]);
  else positional.push(args[i]);
}
const base = (positional[0] ?? "ws://127.0.0.1:8765").replace(/\/+$/, "").replace(/\/v1\/stream$/, "");
const programs = [
  positional[1]
    ? readFileSync(positional[1], "utf8")
    : "import math\nx = math.sqrt(1764)\nprint('x is', x)\nfor i in range(3):\n    print(i, i * i)\n",
  "print('still here: x =', x)\n",
];

const token = process.env.EAGER_TOKEN;
const ws = new WebSocket(`${base}/v1/stream`, {
  headers: token ? { Authorization: `Bearer ${token}` } : {},
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let failed = false;
let stopped = false; // the current program hit an error: stop streaming it
let onResult = null;

ws.on("unexpected-response", (_req, res) => {
  console.error(`eager: error: the server refused the connection: HTTP ${res.statusCode}`);
  process.exit(2);
});
ws.on("error", (err) => {
  console.error(`eager: error: ${err.message}`);
  process.exit(2);
});
ws.on("message", (data) => {
  const msg = JSON.parse(data.toString());
  const shown = msg.type === "result" ? { type: "result", result: summary(msg.result) } : msg.type === "display" ? brief(msg) : msg;
  console.log(JSON.stringify(shown));
  if (msg.type === "error" && msg.stop) stopped = true;
  if (msg.type === "result") {
    if (msg.result.error) failed = true;
    onResult?.();
  }
});
ws.on("close", (code) => {
  if (code !== 1000 && code !== 1005) console.error(`closed by the server: ${code}`);
});

function brief(msg) {
  const data = {};
  for (const [mime, value] of Object.entries(msg.data ?? {})) {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    data[mime] = text.length > 200 ? `${text.slice(0, 200)}... (${text.length} characters)` : value;
  }
  return { ...msg, data };
}

function summary(result) {
  return { stdout: result.stdout, error: result.error, stopped_early: result.stopped_early, nel: result.metrics.nel };
}

async function streamProgram(code) {
  stopped = false;
  const done = new Promise((resolve) => (onResult = resolve));
  const step = 4; // characters per delta, about one token
  for (let i = 0; i < code.length && !stopped; i += step) {
    ws.send(JSON.stringify({ type: "delta", text: code.slice(i, i + step) }));
    await sleep((1000 * step) / rate);
  }
  ws.send(JSON.stringify({ type: "end" }));
  await done;
}

ws.on("open", async () => {
  for (const code of programs) await streamProgram(code);
  ws.close(1000);
  process.exitCode = failed ? 1 : 0;
});

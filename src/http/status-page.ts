/**
 * The status page: one HTML document with inline style and script, no bundler, no external
 * resource (the unit may have no internet, and the Content-Security-Policy allows none). The
 * script polls /api/status every second and posts commands to /api/command; a `?token=` in the
 * page's address is sent on as a Bearer token.
 */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>earwitness</title>
<style>
  :root { color-scheme: light dark; --ok: #2e7d32; --warn: #e65100; --bad: #c62828; --bar: #1565c0; --muted: #888; }
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  h2 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
  .sub { color: var(--muted); font-size: .85rem; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(17rem, 1fr)); gap: 1rem; }
  .card { border: 1px solid #8884; border-radius: .5rem; padding: .7rem 1rem; }
  .state { font-size: 1.6rem; font-weight: 700; }
  .state.ALERT, .state.HOLD { color: var(--bad); }
  .state.SUSPECT { color: var(--warn); }
  .row { display: grid; grid-template-columns: 6rem 1fr 3.5rem; gap: .5rem; align-items: center; margin: .15rem 0; }
  .track { position: relative; height: .8rem; background: #8883; border-radius: .3rem; overflow: hidden; }
  .fill { height: 100%; background: var(--bar); width: 0; }
  .mark { position: absolute; top: 0; bottom: 0; width: 2px; }
  .mark.enter { background: var(--bad); } .mark.exit { background: var(--warn); }
  .num { text-align: right; font-variant-numeric: tabular-nums; }
  .problems li { color: var(--bad); }
  .problems li.none { color: var(--ok); }
  button { font: inherit; padding: .4rem .9rem; margin: .2rem .2rem .2rem 0; border-radius: .4rem; border: 1px solid #8886; cursor: pointer; }
  button.danger { border-color: var(--bad); }
  input[type=number] { width: 4.5rem; font: inherit; padding: .35rem; }
  #result { min-height: 1.4em; }
  #result.err { color: var(--bad); } #result.ok { color: var(--ok); }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #8883; }
  td.id { font-family: ui-monospace, monospace; font-size: .85rem; }
  #conn.err { color: var(--bad); }
</style>
</head>
<body>
<h1>earwitness <span id="device" class="sub"></span></h1>
<div class="sub"><span id="conn">connecting…</span></div>

<div class="grid">
  <section class="card">
    <h2>State</h2>
    <div id="state" class="state">…</div>
    <div id="arming" class="sub"></div>
    <div class="row"><span>danger</span><div class="track" id="danger-track"><div class="fill" id="danger-fill"></div><div class="mark enter" id="enter-mark" title="enter threshold"></div><div class="mark exit" id="exit-mark" title="exit threshold"></div></div><span class="num" id="danger">0</span></div>
    <div class="sub" id="thresholds"></div>
    <div class="row"><span>input level</span><div class="track"><div class="fill" id="level-fill"></div></div><span class="num" id="level">–</span></div>
    <div class="sub" id="speed"></div>
  </section>
  <section class="card">
    <h2>Emotions</h2>
    <div id="probs"><span class="sub">no analysis yet</span></div>
  </section>
  <section class="card">
    <h2>Problems</h2>
    <ul id="problems" class="problems"></ul>
  </section>
</div>

<h2>Control</h2>
<div>
  <button id="btn-arm" data-command="arm">Arm</button>
  <button id="btn-disarm" data-command="disarm" class="danger">Disarm</button>
  <button id="btn-mute" data-command="mute" class="danger">Mute</button> <input id="mute-minutes" type="number" min="1" max="1440" value="30" aria-label="mute minutes"> min
  <button id="btn-unmute" data-command="unmute">Unmute</button>
  <button id="btn-test" data-command="test">Test</button>
  <button id="btn-ack" data-command="ack">Ack</button>
</div>
<div id="result"></div>

<h2>Last alerts</h2>
<table>
  <thead><tr><th>id</th><th>time</th><th>emotion</th><th>peak</th><th>duration</th><th>ended</th></tr></thead>
  <tbody id="alerts"><tr><td colspan="6" class="sub">none since the daemon started</td></tr></tbody>
</table>

<p class="sub" id="versions"></p>

<script>
"use strict";
const token = new URLSearchParams(location.search).get("token");
const headers = token ? { Authorization: "Bearer " + token } : {};
const $ = (id) => document.getElementById(id);
const pct = (x) => Math.max(0, Math.min(100, x * 100)) + "%";
const text = (el, s) => { el.textContent = s; };
const time = (iso) => new Date(iso).toLocaleString();

function render(s) {
  const st = s.status, t = s.telemetry, th = s.thresholds;
  text($("device"), s.device_id);
  const state = $("state");
  text(state, st.state + (st.acknowledged ? " (acknowledged)" : ""));
  state.className = "state " + st.state;
  const arming = [st.armed ? "armed" : "DISARMED"];
  if (st.muted_until) arming.push("muted until " + time(st.muted_until));
  if (!st.ready) arming.push("waiting for audio");
  text($("arming"), arming.join(", ") + " · since " + time(st.since));
  text($("danger"), st.danger.toFixed(2) + (st.emotion ? " " : ""));
  $("danger-fill").style.width = pct(st.danger);
  $("enter-mark").style.left = pct(th.enter_threshold);
  $("exit-mark").style.left = pct(th.exit_threshold);
  text($("thresholds"), "alert at ≥ " + th.enter_threshold + " in " + th.k + " of " + th.n + " windows, ends below " + th.exit_threshold +
    "; quieter than " + th.energy_gate_dbfs + " dBFS is not analysed");
  $("level-fill").style.width = pct((t.dbfs + 90) / 90);
  text($("level"), t.dbfs.toFixed(0) + " dB");
  text($("speed"), "real-time factor " + t.rtf.toFixed(3) + " · " + t.windows_decided + " windows · " + t.dropped_windows + " dropped");
  const probs = $("probs");
  const entries = Object.entries(t.probs).sort((a, b) => b[1] - a[1]);
  probs.replaceChildren(...(entries.length === 0 ? [Object.assign(document.createElement("span"), { className: "sub", textContent: "no analysis yet" })] :
    entries.map(([label, p]) => {
      const row = document.createElement("div");
      row.className = "row";
      const name = document.createElement("span"); name.textContent = label;
      const track = document.createElement("div"); track.className = "track";
      const fill = document.createElement("div"); fill.className = "fill"; fill.style.width = pct(p);
      track.append(fill);
      const num = document.createElement("span"); num.className = "num"; num.textContent = p.toFixed(2);
      row.append(name, track, num);
      return row;
    })));
  const problems = Object.entries(st.problems);
  $("problems").replaceChildren(...(problems.length === 0 ? [Object.assign(document.createElement("li"), { className: "none", textContent: "none" })] :
    problems.map(([code, message]) => Object.assign(document.createElement("li"), { textContent: code + ": " + message }))));
  const rows = s.alerts.map((a) => {
    const tr = document.createElement("tr");
    tr.dataset.alertId = a.alert_id;
    const cells = [a.alert_id.slice(0, 8), time(a.started_at), a.emotion + (a.test ? " (test)" : ""), a.peak.toFixed(2),
      a.duration_s === null ? "ongoing" : a.duration_s.toFixed(1) + " s", a.end_reason ?? ""];
    cells.forEach((c, i) => { const td = document.createElement("td"); td.textContent = c; if (i === 0) { td.className = "id"; td.title = a.alert_id; } tr.append(td); });
    return tr;
  });
  if (rows.length > 0) $("alerts").replaceChildren(...rows);
  const m = s.model;
  text($("versions"), "earwitness " + s.version + " · model " + (m ? m.name + " " + m.version + " (" + m.sha256.slice(0, 12) + ")" : "none loaded"));
}

let polling = false;
async function poll() {
  if (polling) return;
  polling = true;
  try {
    const r = await fetch("api/status", { headers, cache: "no-store" });
    if (!r.ok) throw new Error((await r.json()).error || r.statusText);
    render(await r.json());
    $("conn").className = "";
    text($("conn"), "live · updated " + new Date().toLocaleTimeString());
  } catch (e) {
    $("conn").className = "err";
    text($("conn"), "daemon not reachable: " + e.message);
  } finally {
    polling = false;
  }
}

async function send(command) {
  const body = { command };
  if (command === "mute") body.minutes = Number($("mute-minutes").value);
  const result = $("result");
  try {
    const r = await fetch("api/command", { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const a = await r.json();
    result.className = a.ok ? "ok" : "err";
    text(result, a.ok ? command + ": done" : (a.command || command) + ": " + (a.error || "refused"));
  } catch (e) {
    result.className = "err";
    text(result, command + ": " + e.message);
  }
  poll();
}

for (const b of document.querySelectorAll("button[data-command]")) b.addEventListener("click", () => send(b.dataset.command));
poll();
setInterval(poll, 1000);
</script>
</body>
</html>
`;

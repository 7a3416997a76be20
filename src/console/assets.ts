// The console's only stylesheet and script, served by the worker itself (CSP `default-src 'self'`:
// no inline script or style, nothing from another host). Small enough to keep as strings here.

export const CONSOLE_CSS = `
:root { --fg:#1d2330; --muted:#5f6b7a; --bg:#f6f7f9; --card:#fff; --line:#d9dde3; --accent:#2456d6; --danger:#b42318; --ok:#067647; --warn:#b54708;
  --s2xx:#2e9e5b; --s3xx:#3b82c4; --s4xx:#e0a100; --s5xx:#d13f32; --p50:#2456d6; --p95:#b54708; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
a { color:var(--accent); }
:focus-visible { outline:3px solid #9db7ff; outline-offset:2px; }
.skip { position:absolute; left:-999px; } .skip:focus { left:8px; top:8px; background:#fff; padding:4px 8px; z-index:2; }
.visually-hidden { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
header.top { display:flex; flex-wrap:wrap; align-items:center; gap:16px; padding:10px 24px; background:#111827; color:#e5e7eb; }
header.top a { color:#e5e7eb; text-decoration:none; }
.brand a { font-weight:700; } .brand .org { margin-left:10px; font:12px ui-monospace, monospace; color:#9ca3af; }
nav ul { list-style:none; display:flex; gap:4px; margin:0; padding:0; }
nav a { display:block; padding:6px 12px; border-radius:6px; }
nav a:hover, nav a[aria-current=page] { background:#374151; }
form.signout { margin-left:auto; display:flex; align-items:center; gap:10px; }
.who { font-size:13px; color:#9ca3af; }
main { max-width:1100px; margin:0 auto; padding:20px 24px 48px; }
h1 { font-size:24px; margin:8px 0 16px; } h2 { font-size:17px; margin:0 0 12px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:18px 20px; margin:0 0 18px; }
.narrow { max-width:520px; }
label { display:block; font-weight:600; margin:10px 0 4px; }
input[type=text], input[type=password], input[type=number], input[type=date], select { font:inherit; padding:7px 9px; border:1px solid #b8bfc9; border-radius:6px; background:#fff; min-width:0; }
input[type=text], input[type=password] { width:100%; max-width:520px; }
textarea { font:inherit; font-family:ui-monospace, SFMono-Regular, Menlo, monospace; padding:7px 9px; border:1px solid #b8bfc9; border-radius:6px; display:block; width:100%; max-width:520px; margin-bottom:8px; box-sizing:border-box; }
fieldset { border:1px solid var(--line); border-radius:8px; margin:14px 0; padding:8px 14px 12px; }
legend { font-weight:700; padding:0 6px; }
.check { display:grid; grid-template-columns:auto auto 1fr; align-items:baseline; gap:8px; margin:4px 0; }
.check label { display:inline; margin:0; font-weight:500; }
.hint { color:var(--muted); font-size:13px; margin:2px 0; }
.row { display:flex; gap:16px; flex-wrap:wrap; }
button, .button { display:inline-block; font:inherit; font-weight:600; padding:8px 16px; border-radius:6px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; text-decoration:none; margin-top:12px; }
button.secondary, .button.secondary { background:#fff; color:var(--accent); }
header.top button.secondary { margin:0; padding:5px 12px; }
button.danger, .button.danger { background:var(--danger); border-color:var(--danger); color:#fff; }
form.inline { display:flex; align-items:center; flex-wrap:wrap; gap:8px; }
form.inline label { margin:0; } form.inline button { margin:0; }
.toolbar { display:flex; justify-content:space-between; align-items:center; margin-bottom:12px; gap:12px; }
select + button { margin-left:8px; }
.toolbar .button { margin:0; } .toolbar form.inline button { margin:0; }
.filters { display:flex; flex-wrap:wrap; gap:12px; align-items:flex-end; margin-bottom:14px; }
.filters label { margin:0 0 4px; } .filters button { margin:0; }
table { width:100%; border-collapse:collapse; background:var(--card); border:1px solid var(--line); border-radius:10px; overflow:hidden; margin-bottom:14px; }
th, td { text-align:left; padding:8px 10px; border-bottom:1px solid var(--line); vertical-align:top; font-size:14px; }
th { background:#eef0f4; font-weight:600; }
td.code { white-space:nowrap; }
.code, code { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:13px; }
.muted { color:var(--muted); }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; background:#e5e7eb; }
.badge.active { background:#dcfae6; color:var(--ok); } .badge.revoked { background:#fee4e2; color:var(--danger); } .badge.expired { background:#fef0c7; color:var(--warn); } .badge.disabled { background:#f2f4f7; color:#475467; } .badge.rotate { background:#fef0c7; color:var(--warn); }
.alert { border-radius:8px; padding:10px 14px; margin:0 0 16px; border:1px solid; }
.alert.error { background:#fef3f2; border-color:#fda29b; color:#7a271a; }
.alert.ok { background:#ecfdf3; border-color:#75e0a7; color:#054f31; }
.alert.warn { background:#fffaeb; border-color:#fec84b; color:#7a2e0e; }
.alert p { margin:0; } .alert ul { margin:6px 0 0; }
dl.fields { display:grid; grid-template-columns:max-content 1fr; gap:6px 18px; margin:0; }
dl.fields dt { color:var(--muted); } dl.fields dd { margin:0; }
.copyrow { display:flex; gap:8px; align-items:center; max-width:760px; }
.copyrow input { flex:1; max-width:none; } .copyrow button { margin:0; }
.secret { background:#fffbe6; }
.actions { display:flex; gap:16px; align-items:center; } .actions a { margin-top:12px; }
.pager { display:flex; gap:16px; align-items:center; }
.empty { color:var(--muted); padding:20px; background:var(--card); border:1px dashed var(--line); border-radius:10px; }
figure.chart { margin:0 0 10px; } figure.chart svg { width:100%; height:auto; display:block; }
svg .grid { stroke:#e5e7eb; stroke-width:1; } svg .axis { font-size:11px; fill:var(--muted); }
svg rect.s2xx, .swatch.s2xx { fill:var(--s2xx); background:var(--s2xx); } svg rect.s3xx, .swatch.s3xx { fill:var(--s3xx); background:var(--s3xx); }
svg rect.s4xx, .swatch.s4xx { fill:var(--s4xx); background:var(--s4xx); } svg rect.s5xx, .swatch.s5xx { fill:var(--s5xx); background:var(--s5xx); }
svg .line.p50 polyline { stroke:var(--p50); stroke-width:2; } svg .line.p50 circle { fill:var(--p50); }
svg .line.p95 polyline { stroke:var(--p95); stroke-width:2; stroke-dasharray:5 3; } svg .line.p95 circle { fill:var(--p95); }
.swatch.p50 { background:var(--p50); } .swatch.p95 { background:var(--p95); }
.legend { list-style:none; display:flex; gap:16px; padding:0; margin:4px 0 0 48px; font-size:13px; }
.swatch { display:inline-block; width:12px; height:12px; border-radius:2px; margin-right:6px; vertical-align:-1px; }
details summary { cursor:pointer; color:var(--accent); margin:6px 0; }
`;

/** Progressive enhancement only: every form works without it. */
export const CONSOLE_JS = `
// Typing an expiry date chooses "Custom date" (without script the server refuses a preset plus a date instead).
document.addEventListener("input", function (event) {
  var field = event.target;
  if (!field || field.id !== "expires_at_date" || !field.value) return;
  var custom = document.getElementById("expiry-custom");
  if (custom) custom.checked = true;
});
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("button[data-copy]");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-copy"));
  var status = document.getElementById("copy-status");
  if (!field) return;
  var done = function () { if (status) status.textContent = "Copied to the clipboard."; };
  var fallback = function () { field.focus(); field.select(); try { document.execCommand("copy"); done(); } catch (e) { if (status) status.textContent = "Select the key and copy it."; } };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(field.value).then(done, fallback); else fallback();
});
`;

// The dashboard's page and style sheet (its scripts are compiled from app/*.ts).

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Outpost</title>
<link rel="stylesheet" href="style.css">
<script type="module" src="app.js"></script>
</head>
<body>
<div id="app"><noscript>The dashboard needs JavaScript.</noscript></div>
</body>
</html>
`

export const STYLE_CSS = `body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { padding: 8px 16px; background: #1b2631; color: #eee; }
header button { margin-left: 8px; }
nav { padding: 8px 16px; border-bottom: 1px solid #ddd; background: #fff; }
nav button { border: 0; background: none; padding: 6px 12px; cursor: pointer; font: inherit; }
nav button.active { border-bottom: 2px solid #2471a3; font-weight: 600; }
main { padding: 16px; }
table { border-collapse: collapse; background: #fff; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #eee; vertical-align: middle; }
td.state[data-state="running"] { color: #1e8449; }
td.state[data-state="failed"], td.state[data-state="backoff"] { color: #c0392b; }
td.state[data-state="stopping"], td.state[data-state="starting"] { color: #b9770e; }
form#login { max-width: 280px; margin: 10vh auto; display: flex; flex-direction: column; gap: 8px; }
form#login label { display: flex; flex-direction: column; }
.message { color: #7b241c; min-height: 1.4em; }
.hint { color: #888; font-size: 12px; }
.bar { margin-bottom: 8px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; background: #fff; padding: 6px; border: 1px solid #eee; }
figcaption { font-size: 12px; }
ol.messages, ol.log { font: 12px/1.4 ui-monospace, monospace; list-style: none; padding: 0; max-height: 60vh; overflow: auto; background: #fff; }
ol.log li.error { color: #c0392b; } ol.log li.warn { color: #b9770e; } ol.log li.debug { color: #888; }
ol.spans { list-style: none; padding: 0; font: 12px ui-monospace, monospace; }
ol.spans li { display: grid; grid-template-columns: 40% 20% 40%; white-space: pre; }
.timeline { background: #f2f3f4; }
.bar-span { display: block; height: 10px; background: #2471a3; }
.bar-span.failed { background: #c0392b; }
button.link { border: 0; background: none; color: #2471a3; cursor: pointer; font: 12px ui-monospace, monospace; padding: 0; }
`

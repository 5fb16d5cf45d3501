/**
 * The UI's single page: markup, style and script inline, so the job serves everything itself and
 * the page works where no other host is reachable. The script renders `/api/timeline` and then
 * every update of `/api/events` (server-sent events), drawing its charts as SVG.
 */
export const UI_PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dstream streaming</title>
<style>
  :root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f7f8fa; --accent: #2f6fde; --ok: #12805c; --bad: #c4320a; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
  header { background: #1d2330; color: #fff; padding: 12px 24px; display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; font-weight: 600; }
  header .sub { color: #c7cdd8; }
  .pill { padding: 1px 10px; border-radius: 10px; font-size: 12px; font-weight: 600; text-transform: uppercase; background: #667085; }
  .pill.active { background: var(--ok); } .pill.stopped { background: #98a2b3; }
  main { padding: 16px 24px 40px; max-width: 1280px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 0 0 16px; padding: 12px 16px; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  .summary { display: flex; gap: 32px; flex-wrap: wrap; }
  .summary div span { display: block; font-size: 22px; font-weight: 600; }
  .summary div { color: var(--muted); }
  .summary div span { color: var(--fg); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; font-size: 12px; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.ranges { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; white-space: pre; }
  .stats td.chart { width: 62%; }
  .stats td.avg { font-size: 16px; font-weight: 600; white-space: nowrap; }
  svg.chart { width: 100%; height: 110px; display: block; }
  svg.chart .axis { stroke: var(--line); } svg.chart text { fill: var(--muted); font-size: 10px; }
  svg.chart polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
  svg.chart circle { fill: var(--accent); }
  .outcome.failed { color: var(--bad); font-weight: 600; } .outcome.committed { color: var(--ok); } .outcome.conflict { color: var(--bad); }
  .error { color: var(--bad); margin-top: 8px; }
  .empty { color: var(--muted); font-style: italic; }
  .note { color: var(--muted); font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>dstream · <span data-testid="app-name">…</span></h1>
  <span class="pill" data-testid="status">connecting</span>
  <span class="sub" data-testid="header-info"></span>
</header>
<main>
  <section>
    <div class="summary">
      <div>Completed batches<span data-testid="completed-count">0</span></div>
      <div>Failed batches<span data-testid="failed-count">0</span></div>
      <div>Records<span data-testid="total-records">0</span></div>
      <div>Total lag<span data-testid="total-lag">0</span></div>
    </div>
    <div class="error" data-testid="error" hidden></div>
  </section>
  <section>
    <h2>Statistics <span class="note" data-testid="stats-note"></span></h2>
    <table class="stats">
      <thead><tr><th>Metric</th><th class="num">Avg</th><th>Timeline</th></tr></thead>
      <tbody>
        <tr><td>Input rate</td><td class="num avg" data-testid="avg-input-rate">-</td><td class="chart"><svg class="chart" data-testid="chart-input-rate" viewBox="0 0 640 110" preserveAspectRatio="none"></svg></td></tr>
        <tr><td>Scheduling delay</td><td class="num avg" data-testid="avg-scheduling-delay">-</td><td class="chart"><svg class="chart" data-testid="chart-scheduling-delay" viewBox="0 0 640 110" preserveAspectRatio="none"></svg></td></tr>
        <tr><td>Processing time</td><td class="num avg" data-testid="avg-processing-time">-</td><td class="chart"><svg class="chart" data-testid="chart-processing-time" viewBox="0 0 640 110" preserveAspectRatio="none"></svg></td></tr>
        <tr><td>Total delay</td><td class="num avg" data-testid="avg-total-delay">-</td><td class="chart"><svg class="chart" data-testid="chart-total-delay" viewBox="0 0 640 110" preserveAspectRatio="none"></svg></td></tr>
      </tbody>
    </table>
  </section>
  <section>
    <h2>Lag per partition</h2>
    <table><thead><tr><th>Topic</th><th class="num">Partition</th><th class="num">Committed</th><th class="num">Log end</th><th class="num">Lag</th><th>Input</th></tr></thead>
    <tbody data-testid="lag"></tbody></table>
  </section>
  <section>
    <h2>Offset stores: last commits</h2>
    <table><thead><tr><th>Store</th><th>Group</th><th>Time</th><th class="num">Duration</th><th>Outcome</th><th>Offsets committed (until)</th></tr></thead>
    <tbody data-testid="commits"></tbody></table>
  </section>
  <section>
    <h2>Active batches (<span data-testid="active-count">0</span>)</h2>
    <table><thead><tr><th>Batch time</th><th>Status</th><th class="num">Waiting</th><th>Offset ranges</th></tr></thead>
    <tbody data-testid="active-batches"></tbody></table>
  </section>
  <section>
    <h2>Completed batches <span class="note">(latest first)</span></h2>
    <table><thead><tr><th>Batch time</th><th class="num">Records</th><th class="num">Scheduling delay</th><th class="num">Processing time</th><th class="num">Total delay</th><th>Outcome</th><th>Offset ranges</th></tr></thead>
    <tbody data-testid="completed-batches"></tbody></table>
  </section>
</main>
<script>
(function () {
  'use strict';
  var CHART_BATCHES = 100, TABLE_BATCHES = 50;
  function $(id) { return document.querySelector('[data-testid="' + id + '"]'); }
  function pad(n, w) { n = String(n); while (n.length < (w || 2)) n = '0' + n; return n; }
  function clock(ms) { var d = new Date(ms); return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()); }
  function clockMs(ms) { return clock(ms) + '.' + pad(new Date(ms).getMilliseconds(), 3); }
  function duration(ms) {
    if (ms < 10) return Math.round(ms * 10) / 10 + ' ms';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
    return (ms / 60000).toFixed(1) + ' min';
  }
  function rate(v) { return (v >= 100 ? Math.round(v) : Math.round(v * 10) / 10) + ' records/s'; }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) if (attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function range(r) { return r.topic + '-' + r.partition + ' [' + r.fromOffset + ', ' + r.untilOffset + ')'; }
  function ranges(list) { return list.length ? list.map(range).join('\\n') : '(none)'; }
  function fill(body, rows, empty, columns) {
    body.textContent = '';
    if (rows.length === 0) { var tr = el('tr'); tr.appendChild(el('td', { colspan: columns, 'class': 'empty' }, empty)); body.appendChild(tr); }
    rows.forEach(function (row) { body.appendChild(row); });
  }
  function row(attrs, cells) {
    var tr = el('tr', attrs);
    cells.forEach(function (c) { tr.appendChild(el('td', { 'class': c[0] }, c[1])); });
    return tr;
  }
  var SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function chart(node, batches, value, label) {
    node.textContent = '';
    var W = 640, H = 110, L = 56, R = 8, T = 16, B = 18;
    node.appendChild(svg('line', { 'class': 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }));
    node.appendChild(svg('line', { 'class': 'axis', x1: L, y1: T, x2: L, y2: H - B }));
    if (batches.length === 0) { node.appendChild(svg('text', { x: L + 8, y: H / 2 }, 'no completed batch yet')); return; }
    var max = 0; batches.forEach(function (b) { max = Math.max(max, value(b)); });
    if (max === 0) max = 1;
    var t0 = batches[0].batchTimeMs, t1 = batches[batches.length - 1].batchTimeMs, span = Math.max(1, t1 - t0);
    var points = batches.map(function (b) {
      var x = batches.length === 1 ? (L + W - R) / 2 : L + ((b.batchTimeMs - t0) / span) * (W - L - R);
      var y = H - B - (value(b) / max) * (H - B - T);
      return [x, y];
    });
    node.appendChild(svg('polyline', { points: points.map(function (p) { return p[0].toFixed(1) + ',' + p[1].toFixed(1); }).join(' ') }));
    if (points.length <= 60) points.forEach(function (p) { node.appendChild(svg('circle', { cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: 2 })); });
    node.appendChild(svg('text', { x: L + 4, y: T - 5 }, 'max ' + label(max)));
    node.appendChild(svg('text', { x: L - 4, y: H - B, 'text-anchor': 'end' }, '0'));
    node.appendChild(svg('text', { x: L, y: H - 4 }, clock(t0)));
    node.appendChild(svg('text', { x: W - R, y: H - 4, 'text-anchor': 'end' }, clock(t1)));
  }
  function average(list, value) {
    if (list.length === 0) return undefined;
    var sum = 0; list.forEach(function (b) { sum += value(b); });
    return sum / list.length;
  }
  function render(s) {
    $('app-name').textContent = s.app || '(not started)';
    var status = $('status'); status.textContent = s.status; status.className = 'pill ' + s.status;
    $('header-info').textContent = (s.batchIntervalMs ? 'batch interval ' + duration(s.batchIntervalMs) : '') +
      (s.startTimeMs ? ' · started ' + clock(s.startTimeMs) : '');
    $('completed-count').textContent = String(s.completedBatches);
    $('failed-count').textContent = String(s.failedBatches);
    $('total-records').textContent = String(s.totalRecords);
    var totalLag = 0; s.partitions.forEach(function (p) { totalLag += p.lag; });
    $('total-lag').textContent = String(totalLag);
    var error = $('error'); error.hidden = !s.error; error.textContent = s.error ? 'Error: ' + s.error : '';
    var done = s.completed.filter(function (b) { return !b.failure; });
    var charted = done.slice(-CHART_BATCHES);
    $('stats-note').textContent = charted.length ? '(last ' + charted.length + ' completed batches)' : '';
    var stats = [
      ['input-rate', function (b) { return b.inputRate; }, rate],
      ['scheduling-delay', function (b) { return b.schedulingDelayMs; }, duration],
      ['processing-time', function (b) { return b.processingDelayMs; }, duration],
      ['total-delay', function (b) { return b.totalDelayMs; }, duration]
    ];
    stats.forEach(function (st) {
      var avg = average(charted, st[1]);
      $('avg-' + st[0]).textContent = avg === undefined ? '-' : st[2](avg);
      chart($('chart-' + st[0]), charted, st[1], st[2]);
    });
    fill($('lag'), s.partitions.map(function (p) {
      return row({ 'data-partition': p.topic + ':' + p.partition }, [
        ['topic', p.topic], ['num partition', String(p.partition)], ['num committed', String(p.committedOffset)],
        ['num log-end', String(p.logEndOffset)], ['num lag', String(p.lag)], ['input', p.input]]);
    }), 'no partition planned yet', 6);
    fill($('commits'), s.commits.map(function (c) {
      return row({ 'data-store': c.store }, [
        ['store', c.store], ['group', c.group], ['time', clockMs(c.timeMs)], ['num duration', duration(c.durationMs)],
        ['outcome ' + c.outcome, c.outcome + (c.error ? ': ' + c.error : '')],
        ['ranges', c.offsetRanges.map(function (r) { return r.topic + '-' + r.partition + ' @ ' + r.untilOffset; }).join('\\n')]]);
    }), 'no commit yet', 6);
    $('active-count').textContent = String(s.active.length);
    var now = Date.now();
    fill($('active-batches'), s.active.map(function (b) {
      return row({ 'data-batch-time': String(b.batchTimeMs) }, [
        ['time', clock(b.batchTimeMs)], ['status', b.status], ['num', duration(Math.max(0, now - b.submissionTimeMs))], ['ranges', ranges(b.offsetRanges)]]);
    }), 'no active batch', 4);
    fill($('completed-batches'), s.completed.slice(-TABLE_BATCHES).reverse().map(function (b) {
      return row({ 'data-batch-time': String(b.batchTimeMs) }, [
        ['time', clock(b.batchTimeMs)], ['num records', String(b.numRecords)], ['num scheduling', duration(b.schedulingDelayMs)],
        ['num processing', duration(b.processingDelayMs)], ['num total', duration(b.totalDelayMs)],
        [b.failure ? 'outcome failed' : 'outcome', b.failure ? 'failed: ' + b.failure : 'completed'], ['ranges', ranges(b.offsetRanges)]]);
    }), 'no completed batch yet', 7);
    document.body.setAttribute('data-rendered-batches', String(s.completedBatches + s.failedBatches));
  }
  function load() {
    fetch('api/timeline').then(function (r) { return r.json(); }).then(render).catch(function () {});
  }
  load();
  if (window.EventSource) {
    var source = new EventSource('api/events');
    source.addEventListener('timeline', function (e) { render(JSON.parse(e.data)); });
    source.onerror = function () { var s = $('status'); if (s.textContent !== 'stopped') { s.textContent = 'disconnected'; s.className = 'pill'; } };
  } else {
    setInterval(load, 1000);
  }
})();
</script>
</body>
</html>
`;

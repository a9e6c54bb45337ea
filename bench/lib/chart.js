// A small SVG bar chart of the results: throughput per scenario (service beside baseline) and
// latency p50/p99 per scenario. No dependencies.
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
const fmt = (n) => (n >= 1000 ? `${(n / 1000).toFixed(n >= 100_000 ? 0 : 1)}k` : `${Math.round(n)}`);

function panel({ x, y, width, title, unit, rows, series }) {
  const barH = 14;
  const gap = 10;
  const labelW = 250;
  const max = Math.max(1, ...rows.flatMap((r) => series.map((s) => r[s.key] ?? 0)));
  const plotW = width - labelW - 70;
  let out = `<text x="${x}" y="${y}" font-weight="bold">${esc(title)}</text>`;
  let cy = y + 14;
  for (const row of rows) {
    const groupH = series.length * barH;
    out += `<text x="${x}" y="${cy + groupH / 2 + 4}">${esc(row.label)}</text>`;
    series.forEach((s, i) => {
      const value = row[s.key];
      const by = cy + i * barH;
      if (value === null || value === undefined) return;
      const w = Math.max(1, (value / max) * plotW);
      out += `<rect x="${x + labelW}" y="${by}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${s.color}"/>`;
      out += `<text x="${x + labelW + w + 4}" y="${by + barH - 4}" font-size="10">${fmt(value)}${unit}</text>`;
    });
    cy += groupH + gap;
  }
  let lx = x + labelW;
  for (const s of series) {
    out += `<rect x="${lx}" y="${cy}" width="10" height="10" fill="${s.color}"/><text x="${lx + 14}" y="${cy + 9}" font-size="10">${esc(s.label)}</text>`;
    lx += 24 + s.label.length * 6;
  }
  return { svg: out, height: cy + 24 - y };
}

export function renderChart(results, { title }) {
  const width = 760;
  const ok = results.filter((r) => !r.skipped && !r.error);
  const throughput = ok
    .filter((r) => r.events !== undefined)
    .map((r) => ({ label: `${r.id}. ${r.name}`, events: r.events, baseline: r.baseline ?? null }));
  const latency = ok
    .filter((r) => r.p99 !== undefined && r.p99 !== null)
    .map((r) => ({ label: `${r.id}. ${r.latencyIs === 'lag' ? 'lag ' : 'latency '}${r.name}`, p50: r.p50, p99: r.p99 }));
  const a = panel({
    x: 10,
    y: 44,
    width,
    title: 'Throughput (events/s)',
    unit: '',
    rows: throughput,
    series: [
      { key: 'events', label: 'service', color: '#2b6cb0' },
      { key: 'baseline', label: 'baseline (node:http + JSON.parse + BullMQ add)', color: '#a0aec0' },
    ],
  });
  const b = panel({
    x: 10,
    y: 44 + a.height + 20,
    width,
    title: 'Latency (ms)',
    unit: ' ms',
    rows: latency,
    series: [
      { key: 'p50', label: 'p50', color: '#38a169' },
      { key: 'p99', label: 'p99', color: '#dd6b20' },
    ],
  });
  const height = 44 + a.height + 20 + b.height + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>
${a.svg}
${b.svg}
</svg>
`;
}

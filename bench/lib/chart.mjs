// The bench's chart: one SVG, written by the bench itself (no service, no
// dependency). One panel per workload; in each, every contender's requests/s
// as a fraction of bare Koa (dark bar) and of its floor reference (light bar),
// with lines at 1.0 and 0.9.

const COLORS = { bare: '#1f4e8c', floor: '#e39b2d', grid: '#d9d9d9', text: '#222', muted: '#666' };
const PANEL_WIDTH = 520;
const LABEL = 150;
const BARS = 300;
const BAR = 7;
const ROW = BAR * 2 + 6;
const PANEL_HEAD = 40;
const PANEL_FOOT = 26;

const escape = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const text = (x, y, content, attrs = '') => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escape(content)}</text>`;

function panel(rows, workload, title, x0, y0, scaleMax) {
  const mine = rows.filter((r) => r.workload === workload && r.contender !== 'bare');
  const px = (value) => x0 + LABEL + (Math.min(value, scaleMax) / scaleMax) * BARS;
  const parts = [text(x0, y0 + 16, title, `font-weight="bold" fill="${COLORS.text}"`)];
  const top = y0 + PANEL_HEAD - 10;
  const bottom = top + mine.length * ROW;
  for (let tick = 0; tick <= scaleMax + 1e-9; tick += 0.25) {
    const x = px(tick);
    const strong = Math.abs(tick - 1) < 1e-9;
    parts.push(`<line x1="${x.toFixed(1)}" y1="${top}" x2="${x.toFixed(1)}" y2="${bottom}" stroke="${strong ? '#555' : COLORS.grid}" stroke-width="${strong ? 1.2 : 1}"/>`);
    parts.push(text(x, bottom + 13, tick.toFixed(2), `text-anchor="middle" font-size="10" fill="${COLORS.muted}"`));
  }
  const ninety = px(0.9);
  parts.push(`<line x1="${ninety.toFixed(1)}" y1="${top}" x2="${ninety.toFixed(1)}" y2="${bottom}" stroke="#555" stroke-dasharray="3,3"/>`);
  mine.forEach((row, i) => {
    const y = top + i * ROW + 3;
    parts.push(text(x0 + LABEL - 6, y + BAR + 4, row.contender, `text-anchor="end" font-size="11" fill="${COLORS.text}"`));
    for (const [k, value, color] of [
      [0, row.ratioToBare, COLORS.bare],
      [1, row.ratioToFloor, COLORS.floor],
    ]) {
      if (!Number.isFinite(value)) continue;
      const yy = y + k * BAR;
      const width = px(value) - px(0);
      parts.push(`<rect x="${px(0).toFixed(1)}" y="${yy}" width="${Math.max(width, 0.5).toFixed(1)}" height="${BAR - 1}" fill="${color}"/>`);
      parts.push(text(px(value) + 3, yy + BAR - 1, `${value.toFixed(2)}${value > scaleMax ? ' →' : ''}`, `font-size="9" fill="${COLORS.muted}"`));
    }
  });
  return { svg: parts.join(''), height: PANEL_HEAD + mine.length * ROW + PANEL_FOOT };
}

/**
 * The SVG text. `rows` are summarize()'s; `panels` is [{ workload, title }];
 * `title` and `subtitle` head the chart.
 */
export function chartSvg(rows, panels, { title, subtitle }) {
  const values = rows.flatMap((r) => [r.ratioToBare, r.ratioToFloor]).filter(Number.isFinite);
  const scaleMax = Math.min(2, Math.max(1.25, Math.ceil(Math.max(0, ...values) * 4) / 4));
  const columns = 2;
  const head = 70;
  const parts = [];
  let y = head;
  let height = head;
  for (let i = 0; i < panels.length; i += columns) {
    const line = panels.slice(i, i + columns).map((p, j) => panel(rows, p.workload, p.title, 10 + j * PANEL_WIDTH, y, scaleMax));
    for (const p of line) parts.push(p.svg);
    const tallest = Math.max(...line.map((p) => p.height));
    y += tallest;
    height = y;
  }
  const width = 10 + columns * PANEL_WIDTH;
  const legendY = 52;
  const legend =
    `<rect x="10" y="${legendY - 8}" width="12" height="8" fill="${COLORS.bare}"/>` +
    text(26, legendY, '× bare Koa (requests/s, same round)', `font-size="11" fill="${COLORS.text}"`) +
    `<rect x="250" y="${legendY - 8}" width="12" height="8" fill="${COLORS.floor}"/>` +
    text(266, legendY, '× its floor reference (bare Koa + only the unavoidable work)', `font-size="11" fill="${COLORS.text}"`) +
    `<line x1="640" y1="${legendY - 9}" x2="640" y2="${legendY + 1}" stroke="#555" stroke-dasharray="3,3"/>` +
    text(646, legendY, '0.9', `font-size="11" fill="${COLORS.text}"`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 10}" viewBox="0 0 ${width} ${height + 10}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    text(10, 20, title, `font-size="15" font-weight="bold" fill="${COLORS.text}"`),
    text(10, 36, subtitle, `font-size="11" fill="${COLORS.muted}"`),
    legend,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

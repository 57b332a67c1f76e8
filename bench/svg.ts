// Line charts as self-contained SVG files a person can open in a browser: no library, no
// scripts. One function, lineChart, draws named series of (x, y) points on linear axes with
// "nice" ticks, an optional second series set on a right-hand axis, and optional labelled bands
// along x (the phases of a replication run).

export interface Series {
  name: string;
  points: Array<[number, number]>;
  color?: string;
  /** Draw on the right-hand axis. */
  right?: boolean;
  dashed?: boolean;
}

export interface Band {
  from: number;
  to: number;
  label: string;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  yRightLabel?: string;
  series: Series[];
  bands?: Band[];
  /** Use these x ticks (e.g. adapter counts) instead of computed ones. */
  xTicks?: number[];
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];
const BAND_FILL = ['#f2f2f2', '#ffffff'];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** About `count` round tick values covering [0, max]. */
function ticks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(v);
  if (out[out.length - 1]! < max) out.push(out[out.length - 1]! + step);
  return out;
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(2)}`;
}

export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 400;
  const left = 70, right = spec.series.some((s) => s.right) ? 70 : 20, top = 40, bottom = 80;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const all = spec.series.flatMap((s) => s.points);
  const xs = spec.xTicks ?? ticks(Math.max(1e-9, ...all.map((p) => p[0])));
  const xMin = spec.xTicks ? Math.min(...spec.xTicks) : 0;
  const xMax = Math.max(...xs, xMin + 1e-9);
  const yTicks = ticks(Math.max(0, ...spec.series.filter((s) => !s.right).flatMap((s) => s.points.map((p) => p[1]))));
  const yRightTicks = ticks(Math.max(0, ...spec.series.filter((s) => s.right).flatMap((s) => s.points.map((p) => p[1]))));
  const yMax = yTicks[yTicks.length - 1]!;
  const yRightMax = yRightTicks[yRightTicks.length - 1]!;
  const X = (x: number): number => left + ((x - xMin) / (xMax - xMin || 1)) * plotW;
  const Y = (y: number, onRight = false): number => top + plotH - (y / ((onRight ? yRightMax : yMax) || 1)) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escape(spec.title)}</text>`);
  (spec.bands ?? []).forEach((b, i) => {
    const x0 = X(Math.max(xMin, b.from)), x1 = X(Math.min(xMax, b.to));
    out.push(`<rect x="${x0.toFixed(1)}" y="${top}" width="${Math.max(0, x1 - x0).toFixed(1)}" height="${plotH}" fill="${BAND_FILL[i % 2]}" stroke="#ddd"/>`);
    out.push(`<text x="${((x0 + x1) / 2).toFixed(1)}" y="${top + 14}" text-anchor="middle" fill="#666" font-size="11">${escape(b.label)}</text>`);
  });
  for (const t of yTicks) {
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${Y(t).toFixed(1)}" y2="${Y(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${left - 6}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end">${formatTick(t)}</text>`);
  }
  if (spec.series.some((s) => s.right)) {
    for (const t of yRightTicks) out.push(`<text x="${left + plotW + 6}" y="${(Y(t, true) + 4).toFixed(1)}">${formatTick(t)}</text>`);
    out.push(`<text transform="translate(${width - 14},${top + plotH / 2}) rotate(90)" text-anchor="middle">${escape(spec.yRightLabel ?? '')}</text>`);
  }
  for (const t of xs) {
    out.push(`<line x1="${X(t).toFixed(1)}" x2="${X(t).toFixed(1)}" y1="${top + plotH}" y2="${top + plotH + 5}" stroke="#333"/>`);
    out.push(`<text x="${X(t).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${top + plotH + 36}" text-anchor="middle">${escape(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(16,${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(spec.yLabel)}</text>`);
  spec.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const path = s.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${X(p[0]).toFixed(1)},${Y(p[1], s.right).toFixed(1)}`).join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (s.points.length <= 12) for (const p of s.points) out.push(`<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1], s.right).toFixed(1)}" r="3.5" fill="${color}"/>`);
    const lx = left + (i % 3) * (plotW / 3);
    const ly = height - 22 + Math.floor(i / 3) * 16 - (spec.series.length > 3 ? 14 : 0);
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 30}" y="${ly}">${escape(s.name)}${s.right ? ' (right axis)' : ''}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

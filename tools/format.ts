// Output for operators: aligned tables, human sizes and durations, and progress reports (a bar
// with rate and ETA on a terminal, one plain line per interval otherwise, so logs stay readable).

export type Cell = string | number | boolean | null | undefined;

/** A table with a header row; numbers are right-aligned, everything else left-aligned. */
export function table(columns: string[], rows: Cell[][]): string {
  const text = rows.map((r) => columns.map((_, i) => cellText(r[i])));
  const widths = columns.map((c, i) => Math.max(c.length, ...text.map((r) => r[i]!.length)));
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined));
  const line = (cells: string[]): string => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...text.map(line)].join('\n');
}

/** A table of records (the union of their keys, in first-seen order). */
export function recordTable(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '(none)';
  const columns: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
  return table(columns, rows.map((r) => columns.map((c) => toCell(r[c]))));
}

function toCell(v: unknown): Cell {
  if (Array.isArray(v)) return v.join(' ');
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return v as Cell;
}

function cellText(v: Cell): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(1);
  return String(v);
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(1)} ${units[u]}`;
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function percent(fraction: number): string {
  return `${(100 * fraction).toFixed(1)}%`;
}

/** The window progress rates are measured over. */
const RATE_WINDOW_MS = 3000;

/**
 * Progress of a long operation. update() with the fraction done (0..1) and the units done so far
 * (bytes or journals, for the rate); a terminal gets one redrawn bar, anything else a line at
 * most every `intervalMs`.
 */
export class Progress {
  private readonly started = Date.now();
  private lastLineMs = 0;
  private drawn = false;
  private readonly samples: Array<{ atMs: number; done: number; fraction: number }> = [];

  constructor(private readonly label: string, private readonly out: NodeJS.WriteStream, private readonly unit: 'bytes' | 'journals', private readonly intervalMs = 1000) {}

  update(fraction: number, done: number): void {
    const f = Math.max(0, Math.min(1, fraction));
    const now = Date.now();
    const elapsedMs = now - this.started;
    // The rate over the last few seconds, not since the start: a rate that changes shows.
    this.samples.push({ atMs: now, done, fraction: f });
    while (this.samples.length > 2 && now - this.samples[0]!.atMs > RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const windowMs = now - first.atMs;
    const rate = windowMs > 0 ? ((done - first.done) * 1000) / windowMs : 0;
    const perMs = windowMs > 0 ? (f - first.fraction) / windowMs : 0;
    const eta = f >= 1 ? 0 : perMs > 0 ? (1 - f) / perMs : f > 0 ? (elapsedMs * (1 - f)) / f : Number.NaN;
    const rateText = this.unit === 'bytes' ? `${bytes(rate)}/s` : `${rate.toFixed(0)} journals/s`;
    if (this.out.isTTY) {
      const width = 30;
      const filled = Math.round(f * width);
      this.out.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent(f).padStart(6)}  ${rateText}  ETA ${duration(eta)}   `);
      this.drawn = true;
      return;
    }
    if (Date.now() - this.lastLineMs < this.intervalMs && f < 1) return;
    this.lastLineMs = Date.now();
    this.out.write(`${this.label}: ${percent(f)} done, ${rateText}, ETA ${duration(eta)}\n`);
  }

  finish(message: string): void {
    if (this.drawn) this.out.write('\n');
    this.out.write(`${this.label}: ${message} in ${duration(Date.now() - this.started)}\n`);
  }
}

// Watching and steering running systems: status (once or --watch), info, link cut and restore,
// shared-memory dumps, shutdown.

import type { GroupView } from '../../firmware/copy-commands.ts';
import type { StatisticsView } from '../../firmware/maintenance.ts';
import { bytes, duration, percent, table, type Cell } from '../format.ts';
import { Context, UsageError, sleep } from './context.ts';
import { resolve } from 'node:path';

interface Stats extends StatisticsView {
  atMs: number;
  name: string;
  system: number;
  groups: GroupView[];
  links: Array<{ link: number; peerSystem: number; connected: boolean; cut: boolean }>;
}

/** One system's figures over an interval: rates from two samples. */
export function statusOf(a: Stats, b: Stats): Record<string, unknown> {
  const seconds = Math.max(0.001, (b.atMs - a.atMs) / 1000);
  const rate = (name: string): number => ((b.totals[name] ?? 0) - (a.totals[name] ?? 0)) / seconds;
  const groups = b.groups.map((g) => {
    const unsent = g.role === 'primary' && g.readers.length > 0 ? Math.max(...g.readers.map((r) => Math.max(0, g.nextUpdateNumber - r.readNumber))) : 0;
    const unapplied = g.role === 'secondary' ? Math.max(0, g.receivedNumber - g.restoredNumber) : 0;
    return {
      group: g.group, role: g.role, state: g.state, pairs: g.pairs.length, journalUsage: g.journalUsage,
      lagUpdates: g.role === 'primary' ? unsent : unapplied,
      lagMs: g.role === 'secondary' && unapplied > 0 && g.restoredTimeMs > 0 ? b.atMs - g.restoredTimeMs : g.role === 'primary' && unsent > 0 ? Math.max(...g.readers.map((r) => b.atMs - r.lastReadMs)) : 0,
      suspendReason: g.suspendReason,
    };
  });
  const processors = b.perProcessor.map((p, i) => {
    const before = a.perProcessor[i]!.counters;
    const d = (name: string): number => (p.counters[name] ?? 0) - (before[name] ?? 0);
    return { processor: p.processorId, kind: p.kind, hostOpsPerSec: (d('host_reads') + d('host_writes')) / seconds, slotBusyWaits: d('slot_busy_waits'), cacheFullWaits: d('cache_full_waits'), mailboxFull: d('mailbox_full'), destages: d('destages') };
  });
  const locks = Object.entries(b.locks).map(([kind, l]) => {
    const before = a.locks[kind as keyof Stats['locks']];
    const acquisitions = l.acquisitions - before.acquisitions;
    const contended = l.contended - before.contended;
    return { locks: kind, acquisitions, contended, contendedShare: acquisitions > 0 ? contended / acquisitions : 0, sleeps: l.sleeps - before.sleeps };
  });
  return {
    system: b.name,
    intervalMs: b.atMs - a.atMs,
    iops: rate('host_reads') + rate('host_writes'),
    writeIops: rate('host_writes'),
    readIops: rate('host_reads'),
    bytesPerSec: rate('host_read_bytes') + rate('host_write_bytes'),
    cache: { ...b.cache, usedShare: b.cache.usedSlots / b.cache.slots },
    groups,
    processors,
    locks,
    links: b.links,
  };
}

function render(s: Record<string, unknown>): string {
  const x = s as ReturnType<typeof statusOf> & { cache: { usedSlots: number; slots: number; dirtySlots: number; usedShare: number }; groups: Array<Record<string, number | string>>; processors: Array<Record<string, number | string>>; locks: Array<Record<string, number | string>>; links: Array<{ link: number; peerSystem: number; connected: boolean; cut: boolean }> };
  return [
    `${x.system}: host ${(x.iops as number).toFixed(0)} IOPS (write ${(x.writeIops as number).toFixed(0)}, read ${(x.readIops as number).toFixed(0)}), ${bytes(x.bytesPerSec as number)}/s; cache ${x.cache.usedSlots}/${x.cache.slots} slots used (${percent(x.cache.usedShare)}), ${x.cache.dirtySlots} dirty; links ${x.links.map((l) => `${l.link}:${l.cut ? 'cut' : l.connected ? 'up' : 'down'}`).join(' ') || 'none'}`,
    x.groups.length ? table(['group', 'role', 'state', 'pairs', 'jnl-use', 'lag-upd', 'lag', 'suspend'], x.groups.map((g): Cell[] => [g.group, g.role, g.state, g.pairs, percent(g.journalUsage as number), g.lagUpdates, duration(g.lagMs as number), g.suspendReason])) : '(no groups)',
    table(['proc', 'kind', 'host-ops/s', 'slot-busy-waits', 'cache-full-waits', 'mailbox-full', 'destages'], x.processors.map((p): Cell[] => [p.processor, p.kind, Math.round(p.hostOpsPerSec as number), p.slotBusyWaits, p.cacheFullWaits, p.mailboxFull, p.destages])),
    table(['locks', 'acquisitions', 'contended', 'contended%', 'sleeps'], x.locks.map((l): Cell[] => [l.locks, l.acquisitions, l.contended, percent(l.contendedShare as number), l.sleeps])),
  ].join('\n');
}

export async function status(ctx: Context): Promise<void> {
  const names = ctx.all('system').length ? ctx.all('system') : [...ctx.topology().systems.keys()];
  for (const n of names) ctx.system(n);
  const intervalMs = ctx.number('interval', 1, 0.1, 3600) * 1000;
  const watch = ctx.args.flags.has('watch');
  const count = ctx.integer('count', watch ? 0 : 1, 0, 1_000_000);
  let previous = await Promise.all(names.map((n) => ctx.call<Stats>(n, 'stats')));
  for (let i = 0; count === 0 || i < count; i++) {
    await sleep(intervalMs);
    const now = await Promise.all(names.map((n) => ctx.call<Stats>(n, 'stats')));
    const views = now.map((b, k) => statusOf(previous[k]!, b));
    previous = now;
    if (ctx.json) ctx.stdout.write(`${JSON.stringify(watch ? { atMs: Date.now(), systems: views } : { systems: views }, watch ? undefined : null, watch ? undefined : 2)}\n`);
    else {
      if (watch && ctx.stdout.isTTY) ctx.stdout.write('\x1b[H\x1b[2J');
      ctx.stdout.write(`${new Date().toISOString()}\n${views.map(render).join('\n\n')}\n${watch && !ctx.stdout.isTTY ? '\n' : ''}`);
    }
  }
}

export async function info(ctx: Context): Promise<void> {
  const names = ctx.all('system').length ? ctx.all('system') : [...ctx.topology().systems.keys()];
  const rows: Cell[][] = [];
  const out: unknown[] = [];
  let failures = 0;
  for (const n of names) {
    try {
      const i = await ctx.call<{ system: number; pid: number; runState: string; links: Array<{ link: number; connected: boolean; cut: boolean }>; failedProcessors: Array<{ processor: number; error: string }> }>(n, 'info');
      const failed = i.failedProcessors.map((f) => `${f.processor} (${f.error})`).join('; ');
      rows.push([n, i.system, i.runState, i.pid, i.links.map((l) => `${l.link}:${l.cut ? 'cut' : l.connected ? 'up' : 'down'}`).join(' '), failed || 'none']);
      out.push({ name: n, reachable: true, ...i });
    } catch (e) {
      failures++;
      rows.push([n, ctx.system(n).config.systemNumber, 'unreachable', null, null, null]);
      out.push({ name: n, reachable: false, error: (e as Error).message });
    }
  }
  ctx.print(table(['system', 'number', 'state', 'pid', 'links', 'failed-processors'], rows), out);
  if (failures === names.length) throw new Error(`no system reachable (${names.join(', ')})`);
}

export async function link(ctx: Context): Promise<void> {
  const action = ctx.args.words[1];
  if (action !== 'cut' && action !== 'restore') throw new UsageError('link cut|restore -s SYSTEM -l LINK');
  const name = ctx.required('system', 'the system whose link to cut or restore');
  const number = ctx.integer('link', undefined, 1, 8);
  await ctx.call(name, action === 'cut' ? 'linkCut' : 'linkRestore', { link: number });
  ctx.print(`${name}: link ${number} ${action === 'cut' ? 'cut' : 'restored'}`, { system: name, link: number, state: action === 'cut' ? 'cut' : 'restored' });
}

export async function dump(ctx: Context): Promise<void> {
  const name = ctx.required('system', 'the system whose shared memory to dump');
  const path = resolve(ctx.required('output', 'the dump file'));
  const r = await ctx.call<{ path: string; bytes: number; regions: number }>(name, 'dumpMemory', { path });
  ctx.print(`${name}: shared memory (${r.regions} regions, ${bytes(r.bytes)}) written to ${r.path}`, r);
}

export async function shutdown(ctx: Context): Promise<void> {
  const name = ctx.required('system', 'the system to shut down');
  await ctx.call(name, 'shutdown');
  ctx.print(`${name}: shutting down`, { system: name, shuttingDown: true });
}

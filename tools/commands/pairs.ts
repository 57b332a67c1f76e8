// Copy commands in the manner of Hitachi's CCI: group and journal setup, paircreate,
// pairdisplay, pairsplit, pairresync, horctakeover, pairdelete. A group has the same number on
// every system; the command finds which system holds it in which role by asking each system of
// the topology, so an operator names systems only where a choice is needed.

import type { GroupView } from '../../firmware/copy-commands.ts';
import { ControlClient } from '../control.ts';
import { duration, percent, Progress, table, type Cell } from '../format.ts';
import { Context, UsageError, sleep } from './context.ts';

export interface Holder {
  name: string;
  view: GroupView;
}

export interface GroupHolders {
  primary: Holder | null;
  secondaries: Holder[];
  unreachable: Array<{ name: string; error: string }>;
}

/** Every system of the topology that has `group` in use, by role. */
export async function findGroup(ctx: Context, group: number, only: string[] = []): Promise<GroupHolders> {
  const out: GroupHolders = { primary: null, secondaries: [], unreachable: [] };
  const names = only.length > 0 ? only : [...ctx.topology().systems.keys()];
  for (const name of names) ctx.system(name);
  await Promise.all(names.map(async (name) => {
    let view: GroupView;
    try {
      view = await ctx.call<GroupView>(name, 'groupStatus', { group });
    } catch (e) {
      const message = (e as Error).message;
      if (/unreachable|connection closed/.test(message)) out.unreachable.push({ name, error: message });
      return;
    }
    if (view.role === 'primary') out.primary = { name, view };
    else out.secondaries.push({ name, view });
  }));
  out.secondaries.sort((a, b) => a.name.localeCompare(b.name));
  return out;
}

function describe(h: GroupHolders, group: number): string {
  const unreachable = h.unreachable.length ? ` (unreachable: ${h.unreachable.map((u) => u.name).join(', ')})` : '';
  return `group ${group} is not in use on any reachable system${unreachable}`;
}

/** The system that holds `group` as a primary, or the one named with -s. */
async function primaryOf(ctx: Context, group: number): Promise<Holder> {
  const named = ctx.option('system');
  const h = await findGroup(ctx, group, named ? [named] : []);
  if (named && h.unreachable.length) throw new Error(h.unreachable[0]!.error);
  if (!h.primary) throw new Error(named ? `${named}: group ${group} is not a primary group there` : describe(h, group));
  return h.primary;
}

function volumePairs(ctx: Context): Array<{ primary: number; secondary: number }> {
  const list = ctx.all('volume').flatMap((v) => v.split(','));
  if (list.length === 0) throw new UsageError('--volume is required: P or P:S (primary volume, secondary volume), repeatable or comma-separated');
  return list.map((text) => {
    const m = /^(\d+)(?::(\d+))?$/.exec(text);
    if (!m) throw new UsageError(`--volume ${text}: expected P or P:S, e.g. 1 or 1:3`);
    return { primary: Number(m[1]), secondary: Number(m[2] ?? m[1]) };
  });
}

export async function groupCreate(ctx: Context): Promise<void> {
  const name = ctx.required('system', 'the system to create the group on');
  const group = ctx.integer('group', undefined, 1, 255);
  const role = ctx.required('role', 'primary or secondary');
  if (role !== 'primary' && role !== 'secondary') throw new UsageError(`--role ${role}: must be primary or secondary`);
  const args: Record<string, unknown> = { group, role };
  if (role === 'secondary') {
    const partner = ctx.required('partner', 'the primary system of a secondary group');
    args.partnerSystem = ctx.system(partner).config.systemNumber;
  }
  const view = await ctx.call<GroupView>(name, 'groupCreate', args);
  ctx.print(`${name}: group ${group} created (${view.role}, ${view.state})`, { system: name, group: view });
}

export async function journalAdd(ctx: Context): Promise<void> {
  const name = ctx.required('system', 'the system the journal volume is on');
  const group = ctx.integer('group', undefined, 1, 255);
  const volume = ctx.integer('volume', undefined, 1, 4095);
  const view = await ctx.call<GroupView>(name, 'journalAdd', { group, volume });
  ctx.print(`${name}: volume ${volume} is the journal volume of group ${group}`, { system: name, group: view });
}

export async function pairCreate(ctx: Context): Promise<void> {
  const group = ctx.integer('group', undefined, 1, 255);
  const p = ctx.required('primary', 'the primary system');
  const s = ctx.required('secondary', 'the secondary system');
  if (p === s) throw new UsageError('--primary and --secondary must be different systems');
  const pSys = ctx.system(p);
  const sSys = ctx.system(s);
  const vols = volumePairs(ctx);
  const jnl = ctx.option('jnl');
  const jm = jnl === undefined ? null : /^(\d+)(?::(\d+))?$/.exec(jnl);
  if (jnl !== undefined && !jm) throw new UsageError(`--jnl ${jnl}: expected V or P:S (journal volume on each side)`);
  await ctx.call(p, 'info');
  await ctx.call(s, 'info');
  const ensureGroup = async (name: string, args: Record<string, unknown>): Promise<GroupView> => {
    try {
      return await ctx.call<GroupView>(name, 'groupStatus', { group });
    } catch (e) {
      if (!/unused/.test((e as Error).message)) throw e;
      return ctx.call<GroupView>(name, 'groupCreate', args);
    }
  };
  let pv = await ensureGroup(p, { group, role: 'primary' });
  let sv = await ensureGroup(s, { group, role: 'secondary', partnerSystem: pSys.config.systemNumber });
  if (pv.role !== 'primary') throw new Error(`${p}: group ${group} is a ${pv.role} group there`);
  if (sv.role !== 'secondary') throw new Error(`${s}: group ${group} is a ${sv.role} group there`);
  if (jm) {
    if (pv.journalVolume === 0) pv = await ctx.call<GroupView>(p, 'journalAdd', { group, volume: Number(jm[1]) });
    if (sv.journalVolume === 0) sv = await ctx.call<GroupView>(s, 'journalAdd', { group, volume: Number(jm[2] ?? jm[1]) });
  }
  for (const [name, v] of [[p, pv], [s, sv]] as const) {
    if (v.journalVolume === 0) throw new Error(`${name}: group ${group} has no journal volume; add one (journal add -s ${name} -g ${group} -v N) or pass --jnl`);
  }
  for (const v of vols) {
    await ctx.call(p, 'pairRegister', { group, primaryVolume: v.primary, secondaryVolume: v.secondary, secondarySystem: sSys.config.systemNumber });
    try {
      await ctx.call(s, 'pairRegister', { group, primaryVolume: v.primary, secondaryVolume: v.secondary, primarySystem: pSys.config.systemNumber });
    } catch (e) {
      // Leave no half-registered pair behind on the primary.
      await ctx.call(p, 'pairDelete', { group, volume: v.primary }).catch(() => {});
      throw e;
    }
  }
  const noCopy = ctx.args.flags.has('nocopy');
  await ctx.call(s, 'start', { group });
  const started = await ctx.call<GroupView>(p, 'start', { group, noCopy });
  if (ctx.args.flags.has('wait')) await waitCopied(ctx, p, group, 'initial copy');
  const view = await ctx.call<GroupView>(p, 'groupStatus', { group });
  ctx.print(
    `group ${group}: ${vols.map((v) => `${p}:${v.primary} -> ${s}:${v.secondary}`).join(', ')} ${noCopy ? 'paired without initial copy' : ctx.args.flags.has('wait') ? 'copied' : 'initial copy started'}`,
    { group, primary: p, secondary: s, started: started.state, view },
  );
}

/** Waits until every pair of the primary group is 正常, with a progress report. */
async function waitCopied(ctx: Context, system: string, group: number, label: string): Promise<void> {
  const timeoutMs = ctx.integer('timeout', 600, 1, 86_400) * 1000;
  const started = Date.now();
  const progress = new Progress(`${system} group ${group} ${label}`, ctx.notes, 'bytes');
  const volumes = await ctx.call<Array<{ number: number; capacityBlocks: number }>>(system, 'volumes');
  let firstTracks = -1;
  for (;;) {
    const v = await ctx.call<GroupView>(system, 'groupStatus', { group });
    if (v.pairs.some((x) => x.state === 'abnormal') && label !== 'resync') throw new Error(`${system}: group ${group} suspended during ${label} (${v.suspendReason})`);
    const total = v.pairs.reduce((n, x) => n + (volumes.find((vol) => vol.number === x.primaryVolume)?.capacityBlocks ?? 0) * 512, 0);
    let fraction: number;
    if (label === 'resync') {
      const tracks = v.pairs.reduce((n, x) => n + x.differentialTracks, 0);
      if (firstTracks < 0) firstTracks = Math.max(tracks, 1);
      fraction = v.pairs.every((x) => x.state === 'normal') ? 1 : 1 - tracks / firstTracks;
    } else {
      fraction = v.pairs.length === 0 ? 1 : v.pairs.reduce((n, x) => n + x.copiedPercent, 0) / (100 * v.pairs.length);
    }
    progress.update(fraction, fraction * total);
    if (v.pairs.every((x) => x.state === 'normal')) break;
    if (Date.now() - started > timeoutMs) throw new Error(`${system}: group ${group} ${label} not finished within ${duration(timeoutMs)} (${percent(fraction)} done)`);
    await sleep(200);
  }
  progress.finish('done');
}

export async function pairDisplay(ctx: Context): Promise<void> {
  const group = ctx.integer('group', undefined, 1, 255);
  const named = ctx.all('system');
  const h = await findGroup(ctx, group, named);
  const holders = [...(h.primary ? [h.primary] : []), ...h.secondaries];
  if (holders.length === 0) throw new Error(h.unreachable.length && named.length ? h.unreachable[0]!.error : describe(h, group));
  const now = Date.now();
  const lastCreated = h.primary ? h.primary.view.nextUpdateNumber - 1 : null;
  const sides = holders.map((x) => {
    const v = x.view;
    const lagUpdates = v.role === 'secondary' && lastCreated !== null ? Math.max(0, lastCreated - v.restoredNumber) : null;
    return {
      system: x.name,
      role: v.role,
      state: v.state,
      suspendReason: v.suspendReason,
      journalVolume: v.journalVolume,
      journalUsage: v.journalUsage,
      nextUpdateNumber: v.role === 'primary' ? v.nextUpdateNumber : null,
      receivedNumber: v.role === 'secondary' ? v.receivedNumber : null,
      lastAppliedNumber: v.role === 'secondary' ? v.restoredNumber : null,
      lagUpdates,
      lagMs: lagUpdates && v.restoredTimeMs > 0 ? now - v.restoredTimeMs : lagUpdates === 0 ? 0 : null,
      takenOver: v.takenOver,
    };
  });
  const pairs = (h.primary?.view.pairs ?? holders[0]!.view.pairs).map((pp) => {
    const other = h.secondaries.map((x) => x.view.pairs.find((q) => q.primaryVolume === pp.primaryVolume && q.secondaryVolume === pp.secondaryVolume));
    return {
      pair: pp.pair,
      primary: `${nameOf(ctx, pp.primarySystem)}:${pp.primaryVolume}`,
      secondary: `${nameOf(ctx, pp.secondarySystem)}:${pp.secondaryVolume}`,
      primaryState: h.primary ? pp.state : null,
      secondaryState: other[0]?.state ?? (h.primary ? null : pp.state),
      copiedPercent: h.primary ? pp.copiedPercent : null,
      resync: pp.resync,
      differentialTracks: h.primary ? pp.differentialTracks : null,
    };
  });
  const human = [
    `group ${group}`,
    table(['pair', 'p-vol', 's-vol', 'p-state', 's-state', 'copy%', 'diff-tracks'], pairs.map((x): Cell[] => [x.pair, x.primary, x.secondary, x.primaryState, x.secondaryState, x.copiedPercent, x.differentialTracks])),
    '',
    table(['system', 'role', 'state', 'suspend', 'jnl-vol', 'jnl-use', 'next-upd', 'received', 'applied', 'lag-upd', 'lag'], sides.map((x): Cell[] => [
      x.system, x.role + (x.takenOver ? ' (taken over)' : ''), x.state, x.suspendReason, x.journalVolume, percent(x.journalUsage), x.nextUpdateNumber, x.receivedNumber, x.lastAppliedNumber, x.lagUpdates, x.lagMs === null ? null : duration(x.lagMs),
    ])),
    ...h.unreachable.map((u) => `unreachable: ${u.error}`),
  ].join('\n');
  ctx.print(human, { group, pairs, systems: sides, unreachable: h.unreachable });
}

function nameOf(ctx: Context, number: number): string {
  for (const s of ctx.topology().systems.values()) if (s.config.systemNumber === number) return s.name;
  return `#${number}`;
}

export async function pairSplit(ctx: Context): Promise<void> {
  const group = ctx.integer('group', undefined, 1, 255);
  const p = await primaryOf(ctx, group);
  const view = await ctx.call<GroupView>(p.name, 'suspend', { group });
  ctx.print(`${p.name}: group ${group} suspended (${view.pairs.map((x) => `pair ${x.pair} ${x.state}`).join(', ')}); writes are recorded in the differential bitmaps`, { system: p.name, group: view });
}

export async function pairResync(ctx: Context): Promise<void> {
  const group = ctx.integer('group', undefined, 1, 255);
  const p = await primaryOf(ctx, group);
  await ctx.call<GroupView>(p.name, 'resync', { group });
  if (ctx.args.flags.has('wait')) await waitCopied(ctx, p.name, group, 'resync');
  const view = await ctx.call<GroupView>(p.name, 'groupStatus', { group });
  ctx.print(`${p.name}: group ${group} ${ctx.args.flags.has('wait') ? 'resynchronised' : 'resync started'} (${view.pairs.map((x) => `pair ${x.pair} ${x.state}`).join(', ')})`, { system: p.name, group: view });
}

export async function takeover(ctx: Context): Promise<void> {
  const group = ctx.integer('group', undefined, 1, 255);
  const name = ctx.required('system', 'the secondary system that takes over');
  const timeoutMs = ctx.integer('timeout', 60, 1, 3600) * 1000;
  const before = await ctx.call<GroupView>(name, 'groupStatus', { group });
  if (before.role !== 'secondary') throw new Error(`${name}: group ${group} is a ${before.role} group; take over on its secondary`);
  // Restore drains what the secondary holds; a second connection reports its progress.
  const watcher = await ControlClient.connect(ctx.system(name).control);
  const progress = new Progress(`${name} group ${group} catch-up`, ctx.notes, 'journals');
  const first = before.restoredNumber;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const v = await watcher.call<GroupView>('groupStatus', { group }).catch(() => null);
      if (v) {
        const total = Math.max(1, v.receivedNumber - first);
        progress.update((v.restoredNumber - first) / total, v.restoredNumber - first);
      }
      await sleep(200);
    }
  })();
  let result: { restoredNumber: number; restoredTimeMs: number; pairs: number; drainMs: number };
  try {
    result = await ctx.call(name, 'takeover', { group, timeoutMs });
  } finally {
    polling = false;
    await poll;
    watcher.close();
  }
  progress.finish(`taken over at update number ${result.restoredNumber}`);
  const writeTime = result.restoredTimeMs > 0 ? new Date(result.restoredTimeMs).toISOString() : 'none applied';
  ctx.print(
    `${name}: group ${group} taken over; last applied update number ${result.restoredNumber} (written ${writeTime}); ${result.pairs} volume(s) now writable`,
    { system: name, group, ...result },
  );
}

export async function pairDelete(ctx: Context): Promise<void> {
  const group = ctx.integer('group', undefined, 1, 255);
  const volume = ctx.option('volume') === undefined ? undefined : ctx.integer('volume', undefined, 1, 4095);
  const h = await findGroup(ctx, group, ctx.all('system'));
  // Secondaries first: a refusal there leaves the primary's pairs (and its journaling) as they were.
  const holders = [...h.secondaries, ...(h.primary ? [h.primary] : [])];
  if (holders.length === 0) throw new Error(describe(h, group));
  const rows: Cell[][] = [];
  const out: Array<{ system: string; deleted: number[] }> = [];
  for (const x of holders) {
    // A secondary names the pair by its secondary volume: find the same pair by the primary volume.
    const match = volume === undefined ? undefined : h.primary ? h.primary.view.pairs.find((q) => q.primaryVolume === volume) : undefined;
    const own = match && x !== h.primary ? x.view.pairs.find((q) => q.primaryVolume === match.primaryVolume)?.secondaryVolume : volume;
    const r = await ctx.call<{ deleted: number[] }>(x.name, 'pairDelete', own === undefined ? { group } : { group, volume: own });
    out.push({ system: x.name, deleted: r.deleted });
    rows.push([x.name, r.deleted.join(' ')]);
  }
  ctx.print(`group ${group}: pairs deleted\n${table(['system', 'pairs'], rows)}`, { group, systems: out, unreachable: h.unreachable });
}

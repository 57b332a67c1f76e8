// Host data: `workload` drives a running system's host port and records every acknowledged
// write; `verify` checks a secondary against such a record; `inspect` decodes dumps and journal
// volumes offline.
//
// Record file (JSON lines): a header {"kind":"jcf-workload-record","version":1,"system":...,
// "sizeBytes":...}, then one line per acknowledged write, in acknowledgement order:
// [volume, lba, blocks, seed, issuedAfter]. The data of a write is the address-stamped pattern
// of tools/workload.ts (fillBlocks), so the file stays small and a block that lands in the wrong
// place or holds an older write is told apart. issuedAfter is the number of writes acknowledged
// before this one was issued: those are its causal predecessors, which journal order must keep.

import { readFileSync, writeFileSync } from 'node:fs';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import type { GroupView } from '../../firmware/copy-commands.ts';
import { checkBlocks } from '../workload.ts';
import { ControlClient } from '../control.ts';
import type { RecordedWrite } from '../agent.ts';
import { bytes, duration, Progress, recordTable } from '../format.ts';
import { Context, UsageError, sleep } from './context.ts';
import { findGroup } from './pairs.ts';

export const RECORD_KIND = 'jcf-workload-record';
/** Bytes one verification read asks for. */
const VERIFY_READ_BYTES = 256 * 1024;

export async function workload(ctx: Context): Promise<void> {
  const name = ctx.required('system', 'the system whose host port to drive');
  const volumes = ctx.all('volume').flatMap((v) => v.split(',')).map(Number);
  if (volumes.length === 0 || volumes.some((v) => !Number.isInteger(v) || v < 1)) throw new UsageError('--volume: volume numbers, e.g. --volume 1,2');
  const seconds = ctx.number('seconds', 5, 0, 3600);
  const sizeBytes = ctx.integer('size', 4096, BLOCK_BYTES, 16 * 1024 * 1024);
  if (sizeBytes % BLOCK_BYTES !== 0) throw new UsageError(`--size ${sizeBytes}: must be a multiple of ${BLOCK_BYTES}`);
  const args = {
    volumes, sizeBytes, seconds: Math.ceil(seconds),
    readPercent: ctx.integer('read', 0, 0, 100),
    depth: ctx.integer('depth', 4, 1, 256),
    ratePerSec: ctx.integer('rate', 0, 0, 1_000_000),
    seed: ctx.integer('seed', Date.now() % 1_000_000 + 1, 1),
  };
  const progress = new Progress(`${name} workload`, ctx.notes, 'bytes');
  const started = Date.now();
  // The workload call answers at its end; a second connection samples the host byte counters.
  const watcher = await ControlClient.connect(ctx.system(name).control);
  const hostBytes = async (): Promise<number> => {
    const s = await watcher.call<{ totals: Record<string, number> }>('stats');
    return (s.totals.host_read_bytes ?? 0) + (s.totals.host_write_bytes ?? 0);
  };
  const base = await hostBytes();
  const timer = setInterval(() => {
    void hostBytes().then((b) => progress.update((Date.now() - started) / (args.seconds * 1000), b - base), () => {});
  }, 1000);
  let r: { writes: RecordedWrite[]; reads: number; errors: number; ms: number };
  try {
    r = await ctx.call(name, 'workload', args);
  } finally {
    clearInterval(timer);
    watcher.close();
  }
  progress.finish(`${r.writes.length} writes, ${r.reads} reads acknowledged`);
  const record = ctx.option('record');
  if (record) {
    const lines = [JSON.stringify({ kind: RECORD_KIND, version: 1, system: name, sizeBytes, volumes, seed: args.seed }), ...r.writes.map((w) => JSON.stringify([w.volume, w.lba, w.blocks, w.seed, w.issuedAfter]))];
    writeFileSync(record, `${lines.join('\n')}\n`);
  }
  const iops = ((r.writes.length + r.reads) * 1000) / Math.max(1, r.ms);
  const summary = { system: name, writes: r.writes.length, reads: r.reads, errors: r.errors, ms: r.ms, iops, bytesPerSec: iops * sizeBytes, record: record ?? null };
  ctx.print(`${name}: ${r.writes.length} writes and ${r.reads} reads of ${bytes(sizeBytes)} in ${duration(r.ms)} (${iops.toFixed(0)} IOPS, ${bytes(iops * sizeBytes)}/s), ${r.errors} errors${record ? `; acknowledged writes recorded in ${record}` : ''}`, summary);
  if (r.errors > 0) throw new Error(`${name}: ${r.errors} host commands failed`);
}

function readRecord(path: string): { header: { system: string; sizeBytes: number }; writes: RecordedWrite[] } {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  const header = JSON.parse(lines[0] ?? '{}') as { kind?: string; system: string; sizeBytes: number };
  if (header.kind !== RECORD_KIND) throw new Error(`${path}: not a workload record (first line must be its header)`);
  const writes = lines.slice(1).map((l, i) => {
    const a = JSON.parse(l) as number[];
    if (!Array.isArray(a) || a.length !== 5 || !a.every(Number.isInteger)) throw new Error(`${path}: line ${i + 2} is not [volume, lba, blocks, seed, issuedAfter]`);
    return { volume: a[0]!, lba: a[1]!, blocks: a[2]!, seed: a[3]!, issuedAfter: a[4]! };
  });
  return { header, writes };
}

export async function verify(ctx: Context): Promise<void> {
  const name = ctx.required('system', 'the secondary system to check');
  const path = ctx.required('record', 'the record file a workload wrote');
  const { header, writes } = readRecord(path);
  const group = ctx.option('group') === undefined ? null : ctx.integer('group', undefined, 1, 255);
  const prefix = ctx.args.flags.has('prefix');
  // Primary volume -> this system's volume: through the group's pairs, else the same number.
  const map = new Map<number, number>();
  let view: GroupView | null = null;
  if (group !== null) {
    view = await ctx.call<GroupView>(name, 'groupStatus', { group });
    for (const p of view.pairs) map.set(p.primaryVolume, p.secondaryVolume);
  }
  if (!prefix && group !== null) {
    // Exact equality needs the secondary to have applied everything the primary journaled.
    const h = await findGroup(ctx, group);
    if (h.primary) {
      const unpaired = h.primary.view.pairs.filter((x) => x.state !== 'normal');
      if (unpaired.length > 0 && !view!.takenOver) {
        throw new Error(`${h.primary.name}: ${unpaired.length} pair(s) of group ${group} are ${unpaired[0]!.state} (${h.primary.view.suspendReason}); the secondary cannot hold every write until they are resynchronised (pairresync)`);
      }
      const target = h.primary.view.nextUpdateNumber - 1;
      const timeoutMs = ctx.integer('timeout', 60, 1, 3600) * 1000;
      const started = Date.now();
      const progress = new Progress(`${name} group ${group} catch-up`, ctx.notes, 'journals');
      const first = view!.restoredNumber;
      for (;;) {
        const v = await ctx.call<GroupView>(name, 'groupStatus', { group });
        progress.update(target > first ? (v.restoredNumber - first) / (target - first) : 1, v.restoredNumber - first);
        if (v.restoredNumber >= target || v.takenOver) break;
        if (Date.now() - started > timeoutMs) throw new Error(`${name}: group ${group} restored ${v.restoredNumber} of ${target} within ${duration(timeoutMs)}; not caught up`);
        await sleep(100);
      }
      progress.finish(`caught up to update number ${target}`);
    }
  }
  // The last write of every chunk (exact) or every write of it (prefix), by chunk.
  const byChunk = new Map<string, number[]>();
  writes.forEach((w, i) => {
    const key = `${w.volume}:${w.lba}`;
    byChunk.set(key, [...(byChunk.get(key) ?? []), i]);
  });
  if (prefix && group !== null) await ctx.call(name, 'pauseRestore', { group, paused: true });
  const visible = new Map<string, number>();
  const mismatches: string[] = [];
  try {
    const chunks = [...byChunk.keys()].map((k) => k.split(':').map(Number) as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const chunkBlocks = header.sizeBytes / BLOCK_BYTES;
    const readBlocks = Math.max(chunkBlocks, VERIFY_READ_BYTES / BLOCK_BYTES);
    for (let i = 0; i < chunks.length;) {
      const [volume, lba] = chunks[i]!;
      let j = i;
      while (j < chunks.length && chunks[j]![0] === volume && chunks[j]![1] + chunkBlocks - lba <= readBlocks) j++;
      const blocks = chunks[j - 1]![1] + chunkBlocks - lba;
      const r = await ctx.call<{ data: string }>(name, 'read', { volume: map.get(volume) ?? volume, lba, blocks });
      const data = Buffer.from(r.data, 'base64');
      const words = new Int32Array(data.buffer, data.byteOffset, data.byteLength / 4);
      for (let k = i; k < j; k++) {
        const [v, at] = chunks[k]!;
        const list = byChunk.get(`${v}:${at}`)!;
        const offset = ((at - lba) * BLOCK_BYTES) / 4;
        // Which recorded write the block holds: the newest that matches, -1 for none.
        let seen = -1;
        for (let n = list.length - 1; n >= 0 && seen < 0; n--) {
          const w = writes[list[n]!]!;
          if (checkBlocks(words, offset, w.volume, w.lba, w.blocks, w.seed) < 0) seen = list[n]!;
        }
        visible.set(`${v}:${at}`, seen);
        if (!prefix && seen !== list[list.length - 1]) mismatches.push(`volume ${map.get(v) ?? v} block ${at}: ${seen < 0 ? 'holds none of the recorded writes' : `holds write ${seen}, the last acknowledged is ${list[list.length - 1]}`}`);
      }
      i = j;
    }
  } finally {
    if (prefix && group !== null) await ctx.call(name, 'pauseRestore', { group, paused: false });
  }
  let result: Record<string, unknown>;
  if (prefix) {
    // Prefix consistency: with H the newest write visible, every write acknowledged before H was
    // issued must be visible (or overwritten by a later visible write) — journal order keeps causality.
    const newest = Math.max(-1, ...visible.values());
    const cut = newest >= 0 ? writes[newest]!.issuedAfter : 0;
    for (const [key, list] of byChunk) {
      const required = list.filter((i) => i < cut).pop() ?? -1;
      const seen = visible.get(key)!;
      if (required >= 0 && seen < required) mismatches.push(`chunk ${key}: write ${required} was acknowledged before write ${newest} was issued, yet the image holds ${seen < 0 ? 'none of its writes' : `write ${seen}`}`);
    }
    result = { system: name, mode: 'prefix', writes: writes.length, newestVisible: newest, predecessorsRequired: cut, consistent: mismatches.length === 0, mismatches: mismatches.slice(0, 20) };
    ctx.print(mismatches.length === 0 ? `${name}: prefix-consistent: holds writes up to #${newest} of ${writes.length} with all ${cut} of its acknowledged predecessors` : `${name}: NOT prefix-consistent:\n  ${mismatches.slice(0, 20).join('\n  ')}`, result);
  } else {
    result = { system: name, mode: 'exact', writes: writes.length, chunks: byChunk.size, equal: mismatches.length === 0, mismatches: mismatches.slice(0, 20) };
    ctx.print(mismatches.length === 0 ? `${name}: verified: all ${byChunk.size} written chunks hold their last acknowledged write (${writes.length} writes)` : `${name}: ${mismatches.length} chunks differ:\n  ${mismatches.slice(0, 20).join('\n  ')}`, result);
  }
  if (mismatches.length > 0) throw new Error(`${name}: verification failed (${mismatches.length} problems)`);
}

export async function inspect(ctx: Context): Promise<void> {
  const { inspectJournal, inspectMemory } = await import('../inspect.ts');
  const what = ctx.args.words[1];
  const file = ctx.args.words[2];
  if (what === 'memory') {
    if (!file) throw new UsageError('inspect memory FILE (a dump written by `dump`)');
    const sections = inspectMemory(file);
    const only = ctx.option('section');
    if (only !== undefined && !(only in sections)) throw new UsageError(`--section ${only}: one of ${Object.keys(sections).join(', ')}`);
    const shown = only ? { [only]: sections[only]! } : sections;
    ctx.print(Object.entries(shown).map(([k, rows]) => `== ${k} (${rows.length})\n${recordTable(rows)}`).join('\n\n'), shown);
    return;
  }
  if (what === 'journal') {
    let drive = file;
    let startBlock = ctx.integer('start', 0, 0);
    let blocks = ctx.option('blocks') === undefined ? 0 : ctx.integer('blocks', undefined, 1);
    if (!drive) {
      // From the topology: the journal volume's place on its file drive.
      const name = ctx.required('system', 'the system (or give a drive image file)');
      const number = ctx.integer('volume', undefined, 1, 4095);
      const config = ctx.system(name).config;
      const v = config.volumes.find((x) => x.number === number);
      if (!v) throw new UsageError(`${name} has no volume ${number}`);
      const d = config.drives.find((x) => x.number === v.drive)!;
      if (d.kind !== 'file') throw new UsageError(`${name} volume ${number} is on memory drive ${d.number}: nothing to read offline`);
      drive = d.path!;
      startBlock = v.startBlock;
      blocks = v.capacityBlocks;
    }
    if (blocks === 0) throw new UsageError('--blocks: the journal volume size in blocks (with a drive image file)');
    const r = inspectJournal(drive, { startBlock, blocks });
    const bad = r.records.filter((x) => x.verdict !== 'ok' || x.data === 'data checksum mismatch').length;
    const human = [
      `journal volume on ${drive} blocks ${startBlock}..${startBlock + blocks - 1}: update information ${r.geometry.uiHead}..${r.geometry.wdHead}, write data ${r.geometry.wdHead}..${r.geometry.capacity}`,
      `${r.records.length} records (${bad} bad), ${r.blank} blank slots${r.listedMax ? ' (listing stopped at its limit)' : ''}`,
      recordTable(r.records),
    ].join('\n');
    ctx.print(human, { drive, startBlock, blocks, ...r, bad });
    return;
  }
  throw new UsageError('inspect memory FILE | inspect journal DRIVE --start B --blocks N | inspect journal -s SYSTEM -v VOLUME');
}

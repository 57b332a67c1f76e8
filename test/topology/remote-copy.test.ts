// Journal-based asynchronous remote copy end to end (seed 000, seed 002), in the deterministic
// runtime (seeded, virtual time) and the threaded runtime (worker threads, real time): initial
// copy under host writes, convergence, prefix consistency, link cut and restore, journal full and
// delta resync, link-failure suspension with automatic resync, takeover, and multi-target.

import { afterEach, describe, expect, it } from 'vitest';
import { bootSites, checkPrefix, converge, ok, prefixOf, readVolumes, type Sites } from '../support/two-site.ts';

let current: Sites | null = null;
afterEach(async () => {
  if (current) await current.topo.powerOff();
  current = null;
});

async function sites(o: Parameters<typeof bootSites>[0]): Promise<Sites> {
  current = await bootSites(o);
  return current;
}

describe.each(['deterministic', 'threaded'] as const)('%s runtime', (runtime) => {
  it('initial copy runs while the host writes; afterwards the secondary equals the primary byte for byte', async () => {
    const s = await sites({ runtime, seed: 7, start: false });
    for (let i = 0; i < 20; i++) await s.history.writeRandom();
    s.start();
    for (let i = 0; i < 60; i++) await s.history.writeRandom();
    await converge(s, s.secondaries[0]!);
    const p = s.primary.copy.groupStatus(1).data!;
    expect(p.pairs.map((x) => x.state)).toEqual(['normal', 'normal']);
    const q = s.secondaries[0]!.copy.groupStatus(1).data!;
    expect(q.pairs.map((x) => x.state)).toEqual(['normal', 'normal']); // S940
    expect(q.restoredNumber).toBe(p.nextUpdateNumber - 1);
    // 60 host writes were journaled after their areas were copied, or skipped (S1335) before.
    expect(p.journalsCreated).toBeGreaterThanOrEqual(2 * Math.ceil(512 / 64));
  });

  it('after initial copy every checked secondary image is a prefix of the primary write order, and the prefix never shrinks', async () => {
    const s = await sites({ runtime, seed: 11 });
    await converge(s, s.secondaries[0]!, 'initial copy');
    let last = 0;
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 12; i++) await s.history.writeRandom();
      const k = await checkPrefix(s, s.secondaries[0]!);
      expect(k).toBeGreaterThanOrEqual(last);
      last = k;
    }
    await converge(s, s.secondaries[0]!);
    expect(prefixOf(s.history, await readVolumes(s.secondaries[0]!))).toBe(s.history.writes.length);
  });

  it('with the link cut the primary keeps acknowledging writes and journals pile up; restored, the secondary catches up', async () => {
    const s = await sites({ runtime, seed: 13 });
    await converge(s, s.secondaries[0]!, 'initial copy');
    const before = s.secondaries[0]!.copy.groupStatus(1).data!.restoredNumber;
    s.topo.link(1, 2).cut();
    for (let i = 0; i < 25; i++) await s.history.writeRandom(8); // every write is acknowledged
    const p = s.primary.copy.groupStatus(1).data!;
    expect(p.journalsHeld).toBeGreaterThanOrEqual(25);
    expect(p.pairs.every((x) => x.state === 'normal')).toBe(true);
    await s.topo.pass(50);
    expect(s.secondaries[0]!.copy.groupStatus(1).data!.restoredNumber).toBe(before);
    s.topo.link(1, 2).restore();
    await converge(s, s.secondaries[0]!, 'catch-up');
  });

  it('journal full suspends the pairs and keeps the primary writable; the secondary stays a prefix; resync copies only the difference', async () => {
    const trace: string[] = [];
    const s = await sites({ runtime, seed: 17, trace });
    await converge(s, s.secondaries[0]!, 'initial copy');
    s.topo.link(1, 2).cut();
    let suspendedAt = 0;
    for (let i = 0; i < 200 && suspendedAt === 0; i++) {
      await s.history.writeRandom(32);
      if (s.primary.copy.groupStatus(1).data!.pairs.some((x) => x.state === 'abnormal')) suspendedAt = s.history.writes.length;
    }
    expect(suspendedAt).toBeGreaterThan(0);
    const p = s.primary.copy.groupStatus(1).data!;
    expect(p.suspendReason).toBe('journal full');
    expect(p.pairs.map((x) => x.state)).toEqual(['abnormal', 'abnormal']);
    // Trace lines from worker threads arrive by message: wait for it rather than race it.
    await s.topo.until(() => trace.some((l) => l.includes('-> abnormal (journal full)')), 'the suspension traced');
    for (let i = 0; i < 15; i++) await s.history.writeRandom(32); // still acknowledged
    const marked = s.primary.copy.groupStatus(1).data!.pairs.reduce((n, x) => n + x.differentialTracks, 0);
    expect(marked).toBeGreaterThan(0);
    s.topo.link(1, 2).restore();
    // The secondary drains what was journaled before the suspension and is a consistent prefix.
    const created = s.primary.copy.groupStatus(1).data!.nextUpdateNumber - 1;
    await s.topo.until(() => s.secondaries[0]!.copy.groupStatus(1).data!.restoredNumber >= created, 'drain before resync', { steps: 50_000_000, ms: 60_000 });
    expect(await checkPrefix(s, s.secondaries[0]!)).toBeLessThan(s.history.writes.length);
    ok(s.primary.copy.resync(1));
    await converge(s, s.secondaries[0]!, 'after resync');
    expect(s.primary.copy.groupStatus(1).data!.pairs.every((x) => x.differentialTracks === 0)).toBe(true);
  });

  it('journal reads failing past the link timeout suspend the pairs (link failure); when reads return a delta resync runs by itself', async () => {
    const trace: string[] = [];
    const s = await sites({ runtime, seed: 19, trace, primaryGroup: { linkTimeoutMs: 150 } });
    await converge(s, s.secondaries[0]!, 'initial copy');
    s.topo.link(1, 2).cut();
    await s.topo.pass(400);
    // On a loaded machine the threaded runtime may take longer than the timeout: wait for it.
    await s.topo.until(() => s.primary.copy.groupStatus(1).data!.suspendReason === 'link failure', 'link-failure suspension');
    for (let i = 0; i < 10; i++) await s.history.writeRandom();
    const p = s.primary.copy.groupStatus(1).data!;
    expect(p.pairs.map((x) => x.state)).toEqual(['abnormal', 'abnormal']);
    // A read that was in flight at the cut fails only when its response times out.
    await s.topo.until(() => s.secondaries[0]!.copy.groupStatus(1).data!.failingSinceMs > 0, 'secondary sees its reads fail');
    s.topo.link(1, 2).restore();
    await converge(s, s.secondaries[0]!, 'after automatic resync');
    await s.topo.until(() => trace.some((l) => l.includes('delta resync')), 'the resync traced');
    expect(s.secondaries[0]!.copy.groupStatus(1).data!.failingSinceMs).toBe(0);
  });

  it('takeover: the secondary applies everything it holds, stops pulling, reports the last update number and its time, and becomes writable', async () => {
    const s = await sites({ runtime, seed: 23 });
    await converge(s, s.secondaries[0]!, 'initial copy');
    for (let i = 0; i < 10; i++) await s.history.writeRandom();
    await s.topo.until(() => s.secondaries[0]!.copy.groupStatus(1).data!.receivedNumber >= s.primary.copy.groupStatus(1).data!.nextUpdateNumber - 1, 'received');
    s.topo.link(1, 2).cut(); // the primary site is lost: these writes never arrive
    for (let i = 0; i < 5; i++) await s.history.writeRandom();
    const secondary = s.secondaries[0]!;
    expect(secondary.copy.takeoverComplete(1).reason).toContain('request takeover first');
    ok(secondary.copy.takeover(1));
    let done: ReturnType<typeof secondary.copy.takeoverComplete> | null = null;
    await s.topo.until(() => (done = secondary.copy.takeoverComplete(1)).status === 'ok', 'takeover');
    const result = done!.data!;
    expect(result.pairs).toBe(2);
    expect(result.restoredNumber).toBe(secondary.copy.groupStatus(1).data!.receivedNumber);
    expect(result.restoredTimeMs).toBeGreaterThan(0);
    const k = prefixOf(s.history, await readVolumes(secondary));
    expect(k).toBe(s.history.writes.length - 5);
    await secondary.host.writeOk(0, 1, 0, new Uint8Array(512).fill(9)); // writable now
    expect(secondary.copy.takeover(1).reason).toContain('already taken over');
  });

  it('multi-target: two secondaries pull on their own; the slower one holds journals on the primary until it has read them; both converge', async () => {
    const s = await sites({ runtime, seed: 29, secondaries: 2, secondaryGroup: { readPolicy: 'FIXED', readIntervalMs: 5 } });
    const [b, c] = s.secondaries as [typeof s.secondaries[0], typeof s.secondaries[0]];
    await converge(s, b!, 'initial copy B');
    await converge(s, c!, 'initial copy C');
    s.topo.link(1, 2).cut(); // B stops reading
    for (let i = 0; i < 20; i++) await s.history.writeRandom(8);
    await s.topo.until(() => c!.copy.groupStatus(1).data!.restoredNumber >= s.primary.copy.groupStatus(1).data!.nextUpdateNumber - 1, 'C caught up');
    // C's next journal read acknowledges (and so releases) the last batch it received.
    const next = s.primary.copy.groupStatus(1).data!.nextUpdateNumber;
    await s.topo.until(() => s.primary.copy.groupStatus(1).data!.readers.find((r) => r.system === 3)!.oldestNumber === next, 'C released everything');
    const p = s.primary.copy.groupStatus(1).data!;
    const readerB = p.readers.find((r) => r.system === 2)!;
    const readerC = p.readers.find((r) => r.system === 3)!;
    expect(readerC.readNumber).toBeGreaterThan(readerB.readNumber); // FIG. 26: the sets differ
    expect(readerC.usage).toBe(0);
    expect(readerB.usage).toBeGreaterThan(0); // free space is set by the slowest reader
    expect(p.journalsHeld).toBeGreaterThanOrEqual(20);
    s.topo.link(1, 2).restore();
    await converge(s, b!, 'B after restore');
    await converge(s, c!, 'C');
  });
});

describe('threaded runtime, concurrent hosts', () => {
  it('host writers in 3 worker threads on both channel adapters, overlapping blocks: the secondary ends equal to the primary and to the model of the last write per block', async () => {
    const { startTsWorker, workerExit } = await import('../../hal/runtime/worker-start.ts');
    const { WorkloadModel, verifyRange } = await import('../../tools/workload.ts');
    const s = await sites({ runtime: 'threaded', seed: 37, primaryGroup: { linkTimeoutMs: 0 } });
    await converge(s, s.secondaries[0]!, 'initial copy');
    const spans = [1, 2].map((volume) => ({ volume, chunks: (512 * 512) / 4096 }));
    const modelBuffer = WorkloadModel.allocate(spans);
    const url = new URL('../../tools/workload-worker.ts', import.meta.url);
    const runs = [0, 1, 2].map((i) => {
      const worker = startTsWorker(url, {
        kind: 'run', shared: s.primary.shared, model: modelBuffer, spans,
        options: { workerIndex: i, port: i % 2, chunkBytes: 4096, queueDepth: 3, readRatio: 0.2, maxChunks: 4, durationMs: 1500, randomSeed: 71 + i },
      });
      const exited = workerExit(worker);
      const done = new Promise<{ errors: number; mismatches: number; writes: number }>((resolve, reject) => {
        worker.on('message', (m: { type: string; counters: { errors: number; mismatches: number; writes: number } }) => { if (m.type === 'done') resolve(m.counters); });
        worker.once('error', reject);
      });
      return { done, exited };
    });
    const counters = await Promise.all(runs.map((r) => r.done));
    await Promise.all(runs.map((r) => r.exited));
    expect(counters.reduce((n, c) => n + c.errors + c.mismatches, 0)).toBe(0);
    expect(counters.reduce((n, c) => n + c.writes, 0)).toBeGreaterThan(100);
    // The small journal may have filled under this load: then a resync copies the difference.
    if (s.primary.copy.groupStatus(1).data!.pairs.some((p) => p.state === 'abnormal')) ok(s.primary.copy.resync(1));
    await converge(s, s.secondaries[0]!, 'after concurrent writers');
    const model = new WorkloadModel(modelBuffer, spans);
    spans.forEach((span, index) => {
      const v = verifyRange(s.secondaries[0]!.host.ports, 0, model, index, 0, span.chunks, 4096);
      expect(v.mismatch).toBeNull();
    });
  });
});

describe('deterministic runtime, drive faults', () => {
  it('a journal the secondary cannot read back from its drive makes the group abnormal with a trace line, instead of stalling restore', async () => {
    const trace: string[] = [];
    const s = await sites({ runtime: 'deterministic', seed: 53, faults: true, trace });
    await converge(s, s.secondaries[0]!, 'initial copy');
    const secondary = s.secondaries[0]!;
    ok(secondary.copy.pauseRestore(1, true));
    // Enough writes that the stored journals leave the secondary's small cache before restore reads them.
    for (let i = 0; i < 40; i++) await s.history.writeRandom(16);
    await s.topo.until(() => secondary.copy.groupStatus(1).data!.receivedNumber >= s.primary.copy.groupStatus(1).data!.nextUpdateNumber - 1, 'received');
    await s.topo.pass(50); // destage and eviction
    secondary.faults(0).failReads(2048, 2048 + 1023); // the journal volume's blocks
    ok(secondary.copy.pauseRestore(1, false));
    await s.topo.until(() => secondary.copy.groupStatus(1).data!.state === 'abnormal', 'group abnormal');
    expect(trace.some((l) => l.includes('could not be read from its drive'))).toBe(true);
    const k = prefixOf(s.history, await readVolumes(secondary));
    expect(k).toBeLessThan(s.history.writes.length);
    secondary.faults(0).heal();
  });
});

describe.each(['deterministic', 'threaded'] as const)('%s runtime, release variants', (runtime) => {
  it('RESTORED release ([0107], seed 002 §10.4): the primary keeps journals until the secondary has applied them', async () => {
    const s = await sites({ runtime, seed: 59, secondaryGroup: { releaseMode: 'RESTORED', readPolicy: 'FIXED', readIntervalMs: 2 } });
    await converge(s, s.secondaries[0]!, 'initial copy');
    const secondary = s.secondaries[0]!;
    ok(secondary.copy.pauseRestore(1, true));
    const before = s.primary.copy.groupStatus(1).data!.nextUpdateNumber;
    for (let i = 0; i < 20; i++) await s.history.writeRandom(4);
    const last = s.primary.copy.groupStatus(1).data!.nextUpdateNumber - 1;
    await s.topo.until(() => secondary.copy.groupStatus(1).data!.receivedNumber >= last, 'received');
    await s.topo.pass(30); // several more journal reads, none of which may release the unrestored journals
    const held = s.primary.copy.groupStatus(1).data!.readers[0]!;
    expect(held.oldestNumber).toBeLessThanOrEqual(before);
    expect(s.primary.copy.groupStatus(1).data!.journalsHeld).toBeGreaterThanOrEqual(20);
    ok(secondary.copy.pauseRestore(1, false));
    await converge(s, secondary, 'after restore resumed');
    await s.topo.until(() => s.primary.copy.groupStatus(1).data!.readers[0]!.oldestNumber === last + 1, 'released once restored');
  });

  it.each([
    ['NEXT_COMMAND', 'keeps the batch just sent until the next command (S1590)'],
    ['AFTER_SEND', 'frees journals as soon as they are sent ([0107])'],
  ] as const)('%s release %s', async (mode, _what) => {
    // A long interval leaves a window after each batch in which no further command arrives.
    const s = await sites({ runtime, seed: 61, secondaryGroup: { releaseMode: mode, readPolicy: 'FIXED', readIntervalMs: 300 } });
    await converge(s, s.secondaries[0]!, 'initial copy');
    for (let i = 0; i < 20; i++) await s.history.writeRandom(4);
    const last = s.primary.copy.groupStatus(1).data!.nextUpdateNumber - 1;
    await s.topo.until(() => s.secondaries[0]!.copy.groupStatus(1).data!.receivedNumber >= last, 'received');
    if (mode === 'AFTER_SEND') {
      // Released right after sending — which, in the threaded runtime, may be a moment after the
      // secondary already has them.
      await s.topo.until(() => s.primary.copy.groupStatus(1).data!.journalsHeld === 0, 'released after sending');
    } else {
      expect(s.primary.copy.groupStatus(1).data!.journalsHeld).toBeGreaterThan(0);
    }
    await converge(s, s.secondaries[0]!);
  });
});

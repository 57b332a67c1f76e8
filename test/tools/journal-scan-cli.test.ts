// `cli journal-scan` as an operator runs it: a topology whose system has the same drive layout as
// copySystem(), a journal image made by the real firmware (ten journaled host writes, power-off)
// written to the system's file drive, and the command reading it back — with the report the
// firmware's scan gives on the in-memory image, a torn copy of it, and bad arguments.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { scanJournal, type JournalScanReport } from '../../firmware/journal-scan.ts';
import { JOURNAL, hostWrites, journaledPrimary, powerOff, scanTarget } from '../support/journal-image.ts';
import { cli, cliJson } from './cli-support.ts';

const SIZES = [1, 2, 4, 8, 3, 1, 16, 2, 5, 4];

let dir = '';
let topology = '';
let report: JournalScanReport;
let image: Uint8Array;

/** tokyo: file drive 0 holds volumes 1, 2 (512 blocks) and journal volume 3 (256 blocks from block 1024), as copySystem() lays them out; drive 1 is a memory drive. */
function writeTopology(path: string, groups: unknown[]): void {
  writeFileSync(path, JSON.stringify({
    systems: {
      tokyo: {
        number: 1, channelAdapters: 2, diskAdapters: 1, cacheMiB: 1, maxTransferKiB: 16, control: join(dir, 'tokyo.sock'),
        drives: [{ number: 0, kind: 'file', path: 'tokyo-0.img', sizeMiB: 1 }, { number: 1, kind: 'memory', sizeMiB: 1 }],
        volumes: [{ number: 1, drive: 0, sizeMiB: 0.25 }, { number: 2, drive: 0, sizeMiB: 0.25 }, { number: 3, drive: 0, sizeMiB: 0.125 }, { number: 4, drive: 1, sizeMiB: 0.25 }, { number: 5, drive: 1, sizeMiB: 0.125 }],
        groups,
      },
    },
    links: [],
  }));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'jcf-journal-scan-'));
  topology = join(dir, 'topology.json');
  writeTopology(topology, [{ group: 1, role: 'primary', journalVolume: JOURNAL }]);
  const h = journaledPrimary();
  hostWrites(h, SIZES);
  powerOff(h);
  report = scanJournal(scanTarget(h, 1));
  image = h.driveBytes.get(0)!;
  writeFileSync(join(dir, 'tokyo-0.img'), image);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('cli journal-scan', () => {
  it('reads the group\'s journal volume from the file drive and reports what the firmware\'s scan reports', async () => {
    const [json, human, from] = await Promise.all([
      cliJson<{ system: string; source: string; volume: number; drive: number; startBlock: number; blocks: number; report: JournalScanReport }>(topology, 'journal-scan', '-s', 'tokyo', '-g', '1'),
      cli(topology, 'journal-scan', '-s', 'tokyo', '-g', '1'),
      cliJson<{ report: JournalScanReport }>(topology, 'journal-scan', '-s', 'tokyo', '-g', '1', '--from', '4'),
    ]);
    expect(report).toMatchObject({ status: 'ok', oldest: 1, newest: 10, records: 10, problems: [] });
    expect(json).toMatchObject({ system: 'tokyo', source: 'the topology', volume: JOURNAL, drive: 0, startBlock: 1024, blocks: 256, report });
    expect(human.code).toBe(0);
    expect(human.stdout.split('\n').slice(0, 3)).toEqual([
      'tokyo group 1, journal volume 3 (from the topology) on drive 0 blocks 1024..1279: 32 update-information slots [0, 16384), write data [16384, 131072)',
      'journals 1..10: 10 records, 23.0 KiB of write data',
      `  update information  oldest 0, next ${10 * BLOCK_BYTES}`,
    ]);
    expect(human.stdout).toContain('no problems');
    expect(from.report).toMatchObject({ oldest: 4, newest: 10, from: 4, fromHeld: true, front: 'from 4' });
  });

  it('a torn image: the torn tail and the gap are reported, and the command still succeeds', async () => {
    const torn = image.slice();
    torn[(1024 + 3) * BLOCK_BYTES + 20]! ^= 0xff; // journal 4's header
    writeFileSync(join(dir, 'tokyo-0.img'), torn);
    try {
      const r = await cli(topology, 'journal-scan', '-s', 'tokyo', '-g', '1', '-v', '3');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('journals 1..3: 3 records');
      expect(r.stdout).toContain('  torn tail           slot 3 (position 1536): header checksum mismatch');
      expect(r.stdout).toContain('  - gap at slot 3, after update 3: header checksum mismatch; 6 valid record(s) beyond it, up to update 10, discarded: a journal is never accepted across a gap');
    } finally {
      writeFileSync(join(dir, 'tokyo-0.img'), image);
    }
  });

  it('bad arguments get a clear error and exit status 2; a drive that is not there, status 1', async () => {
    const noGroups = join(dir, 'no-groups.json');
    writeTopology(noGroups, []);
    const runs = await Promise.all([
      cli(topology, 'journal-scan', '-s', 'tokyo'),
      cli(topology, 'journal-scan', '-s', 'osaka', '-g', '1'),
      cli(topology, 'journal-scan', '-s', 'tokyo', '-g', '1', '--from', '0'),
      cli(topology, 'journal-scan', '-s', 'tokyo', '-g', '1', '-v', '9'),
      cli(topology, 'journal-scan', '-s', 'tokyo', '-g', '1', '-v', '5'),
      cli(noGroups, 'journal-scan', '-s', 'tokyo', '-g', '1'),
      cli(topology, 'journal-scan', '-s', 'tokyo', '-g', '1', '-v', '4', '--json'),
    ]);
    expect(runs.map((r) => [r.code, r.stderr.trim()])).toEqual([
      [2, 'error: --group is required'],
      [2, `error: unknown system "osaka"; the topology ${topology} has tokyo`],
      [2, 'error: --from 0: an update number >= 1'],
      [2, 'error: tokyo has no volume 9'],
      [2, 'error: tokyo drive 1 is a memory drive: its blocks live only in the process that runs the system; journal-scan reads file drives'],
      [2, `error: tokyo group 1 has no journal volume in ${join(dir, 'tokyo.state.json')} or the topology; name it with -v VOLUME`],
      [2, 'error: tokyo drive 1 is a memory drive: its blocks live only in the process that runs the system; journal-scan reads file drives'],
    ]);
    rmSync(join(dir, 'tokyo-0.img'));
    try {
      const r = await cli(topology, 'journal-scan', '-s', 'tokyo', '-g', '1');
      expect([r.code, r.stderr.trim()]).toEqual([1, `error: tokyo drive 0: ${join(dir, 'tokyo-0.img')} does not exist (has the system ever run?)`]);
    } finally {
      writeFileSync(join(dir, 'tokyo-0.img'), image);
    }
  });
});

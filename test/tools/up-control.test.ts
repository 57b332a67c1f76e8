// `up` runs a whole topology in this process with a control socket per system: malformed and
// refused control messages get clear answers and change nothing, groups come from the topology
// file, an in-memory link is cut and restored, and a shared-memory dump and the journal volume on
// a drive image are decoded offline (a corrupted update information is caught by its checksum).

import { mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { GroupView } from '../../firmware/copy-commands.ts';
import { ControlClient } from '../../tools/control.ts';
import { inspectJournal, inspectMemory } from '../../tools/inspect.ts';
import { run, type Running } from '../../tools/serve.ts';
import { cli } from './cli-support.ts';

const dirs: string[] = [];
let running: Running | null = null;
afterEach(async () => {
  if (running) await running.shutdown();
  running = null;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function topology(dir: string): string {
  const system = (name: string, number: number, group: unknown): unknown => ({
    number, cacheMiB: 4, control: join(dir, `${name}.sock`),
    drives: [{ number: 0, kind: 'file', path: `${name}.img`, sizeMiB: 8 }],
    volumes: [{ number: 1, drive: 0, sizeMiB: 2 }, { number: 3, drive: 0, sizeMiB: 4 }],
    groups: [group],
  });
  const path = join(dir, 'topology.json');
  writeFileSync(path, JSON.stringify({
    systems: { tokyo: system('tokyo', 1, { group: 1, role: 'primary', journalVolume: 3 }), osaka: system('osaka', 2, { group: 1, role: 'secondary', partner: 'tokyo', journalVolume: 3 }) },
    links: [{ between: ['tokyo', 'osaka'] }],
  }));
  return path;
}

/** Raw lines to a control socket, and the response lines. */
async function exchange(path: string, lines: string[]): Promise<Array<Record<string, unknown>>> {
  const socket = net.connect(path);
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(lines.map((l) => `${l}\n`).join(''));
  while (text.split('\n').length <= lines.length) await new Promise((resolve) => setTimeout(resolve, 5));
  socket.destroy();
  return text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

it('up: control protocol errors, groups from the topology, link cut and restore, memory dump and journal inspection', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'up-'));
  dirs.push(dir);
  const path = topology(dir);
  const out: string[] = [];
  const logs: string[] = [];
  running = await run('up', path, null, (l) => out.push(l), (l) => logs.push(l));
  expect(out).toContain(`tokyo (system 1) ready; control ${join(dir, 'tokyo.sock')}; link 1 -> osaka (in memory)`);

  const answers = await exchange(join(dir, 'tokyo.sock'), [
    'not json',
    '[1, 2]',
    '{"id": 1}',
    '{"id": 2, "op": "groupStatus", "args": [1]}',
    '{"id": 3, "op": "frobnicate"}',
    '{"id": 4, "op": "groupStatus", "args": {"group": "one"}}',
    '{"id": 5, "op": "resync", "args": {"group": 1}}',
    '{"id": 6, "op": "pairRegister", "args": {"group": 1, "primaryVolume": 9, "secondaryVolume": 1, "secondarySystem": 2}}',
    '{"id": 7, "op": "linkCut", "args": {"link": 5}}',
    '{"id": 8, "op": "groupStatus", "args": {"group": 1}}',
  ]);
  expect(answers[0]).toMatchObject({ id: null, ok: false, error: expect.stringMatching(/^malformed request: not JSON/) });
  expect(answers[1]).toEqual({ id: null, ok: false, error: 'malformed request: expected a JSON object {"id", "op", "args"}' });
  expect(answers[2]).toEqual({ id: 1, ok: false, error: 'malformed request: "op" must be a string' });
  expect(answers[3]).toEqual({ id: 2, ok: false, error: 'malformed request: "args" must be an object' });
  expect(answers[4]).toEqual({ id: 3, ok: false, error: "unknown operation 'frobnicate'" });
  expect(answers[5]).toEqual({ id: 4, ok: false, error: 'group: "one" must be an integer 1..255' });
  expect(answers[6]).toEqual({ id: 5, ok: false, error: 'group 1 has not started copying' });
  expect(answers[7]).toEqual({ id: 6, ok: false, error: 'volume 9 is not defined' });
  expect(answers[8]).toEqual({ id: 7, ok: false, error: 'link 5 is not a link of tokyo (links: 1)' });
  // The group came from the topology file, and nothing above changed it.
  expect(answers[9]).toMatchObject({ id: 8, ok: true, data: { group: 1, role: 'primary', state: 'normal', journalVolume: 3, pairs: [] } });

  const tokyo = await ControlClient.connect({ kind: 'unix', path: join(dir, 'tokyo.sock') });
  const osaka = await ControlClient.connect({ kind: 'unix', path: join(dir, 'osaka.sock') });
  try {
    await tokyo.call('pairRegister', { group: 1, primaryVolume: 1, secondaryVolume: 1, secondarySystem: 2 });
    await osaka.call('pairRegister', { group: 1, primaryVolume: 1, secondaryVolume: 1, primarySystem: 1 });
    await osaka.call('start', { group: 1 });
    // Both volumes are blank: no initial copy, so every write is journaled from the start.
    await tokyo.call('start', { group: 1, noCopy: true });
    const data = Buffer.alloc(4096, 0x5a).toString('base64');
    for (let lba = 0; lba < 64; lba += 8) await tokyo.call('write', { volume: 1, lba, data });
    const caughtUp = async (): Promise<boolean> => {
      const p = await tokyo.call<GroupView>('groupStatus', { group: 1 });
      const s = await osaka.call<GroupView>('groupStatus', { group: 1 });
      return p.pairs[0]!.state === 'normal' && s.restoredNumber === p.nextUpdateNumber - 1;
    };
    for (let i = 0; i < 500 && !(await caughtUp()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await caughtUp(), logs.join('\n') + JSON.stringify([await tokyo.call('groupStatus', { group: 1 }), await osaka.call('groupStatus', { group: 1 })])).toBe(true);
    expect(await osaka.call<{ data: string }>('read', { volume: 1, lba: 8, blocks: 8 })).toEqual({ data });
    // A secondary volume is not the host's to write; the refusal comes back with the sense reason.
    await expect(osaka.call('write', { volume: 1, lba: 0, data })).rejects.toThrow(/^write of volume 1 lba 0 failed: status 2, /);
    await expect(osaka.call('write', { volume: 1, lba: 0, data: 'AAAA' })).rejects.toThrow('data: 3 bytes must be a whole number of 512-byte blocks up to 262144');

    await expect(tokyo.call('linkCut', { link: 1 })).resolves.toMatchObject({ links: [{ link: 1, cut: true, connected: false }] });
    await expect(tokyo.call('linkCut', { link: 1 })).rejects.toThrow('link 1 is already cut');
    await expect(tokyo.call('linkRestore', { link: 1 })).resolves.toMatchObject({ links: [{ link: 1, cut: false }] });

    const dump = join(dir, 'tokyo.mem');
    await tokyo.call('dumpMemory', { path: dump });
    const sections = inspectMemory(dump);
    expect(sections.groups!.map((g) => g.group_number ?? g.number ?? g)).toHaveLength(1);
    expect(sections.pairs).toHaveLength(1);
    expect(sections.volumes!.length).toBe(2);
    expect(sections.pointers!.length).toBeGreaterThan(0);
    expect(sections.regions!.map((r) => r.name)).toContain('groups');

    // status and pairdelete through the CLI, against the sockets of this process. Only the
    // primary's half is deleted here: a running secondary group's restore task keeps the number
    // of the last volume it wrote, which the firmware's deletePair takes for a command in progress.
    const [shownStatus, unknown] = await Promise.all([cli(path, 'status', '--count', '1', '--interval', '0.2', '--json'), cli(path, 'pairdelete', '-g', '1', '-v', '2')]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error: osaka: volume 2 is not paired in group 1');
    const deleted = await cli(path, 'pairdelete', '-g', '1', '-s', 'tokyo', '--json');
    expect(shownStatus.code, shownStatus.stderr).toBe(0);
    const systems = (JSON.parse(shownStatus.stdout) as { systems: Array<{ system: string; groups: Array<{ group: number; role: string }>; processors: unknown[] }> }).systems;
    expect(systems.map((x) => [x.system, x.groups[0]!.role, x.processors.length])).toEqual([['tokyo', 'primary', 3], ['osaka', 'secondary', 3]]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(JSON.parse(deleted.stdout)).toMatchObject({ group: 1, systems: [{ system: 'tokyo', deleted: [1] }] });
    expect((await tokyo.call<GroupView>('groupStatus', { group: 1 })).pairs).toEqual([]);
  } finally {
    tokyo.close();
    osaka.close();
  }
  await running.shutdown();
  running = null;

  // Offline: the primary's journal volume (volume 3, after the 2 MiB volume 1) on its drive image.
  const image = join(dir, 'tokyo.img');
  const extent = { startBlock: 4096, blocks: 8192 };
  const before = inspectJournal(image, extent);
    // Eight host writes, each record valid and its write data matching its checksum.
  expect(before.records.map((r) => [r.verdict, r.update, r.data])).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => ['ok', n, 'ok']));
  // One flipped byte in the first record's header: the checksum catches it.
  const at = extent.startBlock * 512 + (before.records[0]!.slot as number) * 512 + 20;
  const fd = openSync(image, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0] = b[0]! ^ 0xff;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
  const after = inspectJournal(image, extent);
  expect(after.records[0]).toEqual({ slot: before.records[0]!.slot, verdict: 'header checksum mismatch' });

  // The same through the CLI, the extent taken from the topology file.
  const shown = await cli(path, 'inspect', 'journal', '-s', 'tokyo', '-v', '3');
  expect(shown.code).toBe(0);
  expect(shown.stdout).toContain('8 records (1 bad)');
  expect(shown.stdout).toMatch(/SLOT\s+VERDICT/);
});

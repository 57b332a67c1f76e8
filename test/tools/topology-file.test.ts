// The topology file names every bad field and says why, all problems at once; and the CLI turns
// a bad file, an unknown command or system, or a missing option into exit status 2 with a message.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TopologyError, loadTopology, parseTopology } from '../../tools/topology-file.ts';
import { cli } from './cli-support.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const good = (): Record<string, any> => ({
  systems: {
    tokyo: { number: 1, control: '127.0.0.1:7101', drives: [{ number: 0, kind: 'memory', sizeMiB: 16 }], volumes: [{ number: 1, drive: 0, sizeMiB: 4 }, { number: 2, drive: 0, sizeMiB: 8 }], groups: [{ group: 1, role: 'primary', journalVolume: 2 }] },
    osaka: { number: 2, control: 'osaka.sock', drives: [{ number: 0, kind: 'file', path: 'drives/osaka.img', sizeMiB: 16 }], volumes: [{ number: 1, drive: 0, sizeMiB: 4 }], groups: [{ group: 1, role: 'secondary', partner: 'tokyo' }] },
  },
  links: [{ between: ['tokyo', 'osaka'], tcp: '127.0.0.1:7201' }],
});

function problems(json: unknown): string[] {
  try {
    parseTopology(json, '/topologies/t.json');
  } catch (e) {
    expect(e).toBeInstanceOf(TopologyError);
    return (e as TopologyError).problems;
  }
  throw new Error('the topology was accepted');
}

describe('topology file', () => {
  it('a good file gives each system its configuration: links numbered per system, paths beside the file, packed volumes', () => {
    const t = parseTopology(good(), '/topologies/t.json');
    const tokyo = t.systems.get('tokyo')!;
    expect(tokyo.config.links).toEqual([{ number: 1, peerSystem: 2, adapter: 1 }]);
    expect(tokyo.config.volumes.map((v) => [v.number, v.startBlock, v.capacityBlocks])).toEqual([[1, 0, 8192], [2, 8192, 16384]]);
    expect(tokyo.stateFile).toBeNull(); // memory drives only: nothing survives a restart anyway
    const osaka = t.systems.get('osaka')!;
    expect(osaka.control).toEqual({ kind: 'unix', path: '/topologies/osaka.sock' });
    expect(osaka.config.drives[0]!.path).toBe('/topologies/drives/osaka.img');
    expect(osaka.stateFile).toBe('/topologies/drives/osaka.state.json');
    expect(t.links[0]!.tcp).toEqual({ host: '127.0.0.1', port: 7201 });
  });

  it('names each bad field and why, all at once', () => {
    const t = good();
    t.systems.tokyo.cacheMiB = 0;
    t.systems.tokyo.drives[0].kind = 'tape';
    t.systems.osaka.number = 1;
    t.systems.osaka.colour = 'blue';
    t.links.push({ between: ['tokyo', 'kyoto'] });
    t.links[0].tcp = 'localhost';
    const p = problems(t);
    expect(p).toContain('systems.tokyo.cacheMiB: 0 must be an integer 1..1024');
    expect(p).toContain('systems.tokyo.drives[0].kind: "tape" must be "memory" or "file"');
    expect(p).toContain('systems.osaka.number: 1 is already the number of "tokyo"');
    expect(p).toContain('systems.osaka.colour: unknown field');
    expect(p).toContain('links[1].between: system "kyoto" is not defined in systems');
    expect(p).toContain('links[0].tcp: "localhost" must be host:port (port 1..65535)');
  });

  it('problems only the system configuration can see are reported under the system', () => {
    const t = good();
    t.systems.tokyo.volumes[1].offsetMiB = 2; // overlaps volume 1
    t.systems.tokyo.volumes.push({ number: 3, drive: 0, sizeMiB: 64 });
    const p = problems(t);
    expect(p).toContain('systems.tokyo: volumes[1]: overlaps volume 1 on drive 0');
    expect(p.some((x) => x.startsWith('systems.tokyo: volumes[2]: blocks') && x.includes('do not fit on drive 0'))).toBe(true);
  });

  it('groups: a secondary needs a linked partner, a journal volume must exist', () => {
    const t = good();
    t.links = [];
    t.systems.tokyo.groups[0].journalVolume = 9;
    t.systems.tokyo.groups.push({ group: 0, role: 'leader' });
    const p = problems(t);
    expect(p).toContain('systems.osaka.groups[0].partner: no link joins "osaka" and "tokyo"');
    expect(p).toContain('systems.tokyo.groups[0].journalVolume: 9 is not a volume of "tokyo"');
    expect(p).toContain('systems.tokyo.groups[1].group: 0 must be an integer 1..255');
    expect(p).toContain('systems.tokyo.groups[1].role: "leader" must be "primary" or "secondary"');
  });

  it('the shape: not an object, no systems, a link to itself, a duplicate control socket', () => {
    expect(problems([])).toEqual(['the top level must be an object with "systems" and "links"']);
    expect(problems({ systems: {} })).toContain('systems: must be an object with at least one named system');
    const t = good();
    t.links[0].between = ['tokyo', 'tokyo'];
    t.systems.osaka.control = '127.0.0.1:7101';
    const p = problems(t);
    expect(p).toContain('links[0].between: a link joins two different systems, got "tokyo" twice');
    expect(p).toContain('systems.osaka.control: 127.0.0.1:7101 is already the control socket of "tokyo"');
  });

  it('a file that is missing or not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'topology-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'bad.json'), '{ "systems": ');
    expect(() => loadTopology(join(dir, 'bad.json'))).toThrow(/bad\.json: invalid topology:\n {2}- not valid JSON/);
    expect(() => loadTopology(join(dir, 'none.json'))).toThrow(/none\.json: invalid topology:\n {2}- cannot read the file/);
  });
});

describe('cli: calling it wrongly is exit status 2 with a message', () => {
  it('bad topology, unknown command, unknown system, missing and bad options; help is 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topology-'));
    dirs.push(dir);
    const bad = good();
    bad.systems.tokyo.channelAdapters = 99;
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(bad));
    writeFileSync(join(dir, 'good.json'), JSON.stringify(good()));
    const [badFile, unknownCommand, unknownSystem, missing, badNumber, help] = await Promise.all([
      cli(join(dir, 'bad.json'), 'validate'),
      cli(join(dir, 'good.json'), 'pairfrobnicate'),
      cli(join(dir, 'good.json'), 'pairsplit', '-g', '1', '-s', 'kyoto'),
      cli(join(dir, 'good.json'), 'paircreate', '-g', '1', '-p', 'tokyo'),
      cli(join(dir, 'good.json'), 'pairdisplay', '-g', 'one'),
      cli(null, '--help'),
    ]);
    expect(badFile.code).toBe(2);
    expect(badFile.stderr).toContain('systems.tokyo.channelAdapters: 99 must be an integer 1..64');
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toContain("error: unknown command 'pairfrobnicate'");
    expect(unknownSystem.code).toBe(2);
    expect(unknownSystem.stderr).toMatch(/unknown system "kyoto"; the topology .* has tokyo, osaka/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--secondary is required (the secondary system)');
    expect(badNumber.code).toBe(2);
    expect(badNumber.stderr).toContain('--group one: must be an integer 1..255');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('paircreate -g G -p PRIMARY -S SECONDARY');
  });
});

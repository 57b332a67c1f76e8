// Topology file: the JSON an operator writes to describe storage systems and the links between
// them. `cli serve` runs one of its systems as a process, `cli up` runs all of them in one
// process, and every other command finds a system's control socket through it.
//
//   {
//     "systems": {
//       "tokyo": {
//         "number": 1,                        storage system number 1..65535
//         "channelAdapters": 2, "diskAdapters": 1,
//         "cacheMiB": 16,                     cache memory
//         "maxTransferKiB": 256,              largest host transfer (optional)
//         "control": "127.0.0.1:7101",        control socket: host:port, or a Unix socket path
//         "drives": [ { "number": 0, "kind": "file", "path": "drives/tokyo-0.img", "sizeMiB": 64 } ],
//         "volumes": [ { "number": 1, "drive": 0, "sizeMiB": 16, "offsetMiB": 0 } ],
//         "groups": [ { "group": 1, "role": "primary", "journalVolume": 3 } ],
//         "stateFile": "drives/tokyo.state.json"   (optional; default beside the first file drive)
//       },
//       "osaka": { ... "groups": [ { "group": 1, "role": "secondary", "partner": "tokyo", "journalVolume": 3 } ] }
//     },
//     "links": [ { "between": ["tokyo", "osaka"], "tcp": "127.0.0.1:7201" } ]
//   }
//
// A link's first system listens on its `tcp` address and the second connects to it; without
// `tcp` the link is in-process (only `up` can run it). Each system numbers its links 1, 2, ... in
// the order they appear, and the last channel adapter owns them unless `adapters` says
// otherwise. Relative paths are relative to the topology file. Every problem is reported at
// once with the field it concerns, as validateConfig does for one system.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { BLOCK_BYTES, ConfigError, DEFAULT_CONFIG, validateConfig, type SystemConfig } from '../firmware/config.ts';

const MiB = 1024 * 1024;
/** Bounds that keep a topology file from asking for more than one machine has. */
export const TOPOLOGY_SYSTEMS_MAX = 16;
export const TOPOLOGY_CACHE_MIB_MAX = 1024;
export const TOPOLOGY_DRIVE_MIB_MAX = 64 * 1024;

export type Address = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface GroupSetup {
  group: number;
  role: 'primary' | 'secondary';
  /** Secondary: the primary system's name (its group has the same number). */
  partner?: string;
  journalVolume?: number;
}

export interface TopologyLink {
  a: { system: string; link: number; adapter: number };
  b: { system: string; link: number; adapter: number };
  /** Listener address (a listens, b connects); null: in-process. */
  tcp: { host: string; port: number } | null;
}

export interface TopologySystem {
  name: string;
  config: SystemConfig;
  control: Address;
  groups: GroupSetup[];
  /** Where the operator-level configuration is kept across restarts; null with memory drives only. */
  stateFile: string | null;
}

export interface TopologyFile {
  path: string;
  systems: Map<string, TopologySystem>;
  links: TopologyLink[];
}

export class TopologyError extends Error {
  override name = 'TopologyError';
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: invalid topology:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Parses "host:port" or a socket path; null if it is neither. */
export function parseAddress(text: unknown, base: string): Address | null {
  if (typeof text !== 'string' || text.length === 0) return null;
  const m = /^([A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(text);
  if (m) {
    const port = Number(m[2]);
    if (port < 1 || port > 65535) return null;
    return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port };
  }
  if (text.includes('/') || text.endsWith('.sock')) return { kind: 'unix', path: isAbsolute(text) ? text : resolve(base, text) };
  return null;
}

export function formatAddress(a: Address): string {
  return a.kind === 'tcp' ? `${a.host}:${a.port}` : a.path;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isSize = (v: unknown, max: number): v is number => typeof v === 'number' && v > 0 && v <= max && Number.isInteger((v * MiB) / BLOCK_BYTES);

const SYSTEM_KEYS = new Set(['number', 'channelAdapters', 'diskAdapters', 'cacheMiB', 'maxTransferKiB', 'control', 'drives', 'volumes', 'groups', 'stateFile', 'groupsMax', 'pairsMax', 'volumesMax']);

/** Reads and validates a topology file; throws TopologyError listing every problem. */
export function loadTopology(path: string): TopologyFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TopologyError(path, [`cannot read the file: ${(e as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TopologyError(path, [`not valid JSON: ${(e as Error).message}`]);
  }
  return parseTopology(json, path);
}

export function parseTopology(json: unknown, path: string): TopologyFile {
  const base = dirname(resolve(path));
  const p: string[] = [];
  const systems = new Map<string, TopologySystem>();
  const links: TopologyLink[] = [];
  if (!isObject(json)) throw new TopologyError(path, ['the top level must be an object with "systems" and "links"']);
  for (const key of Object.keys(json)) if (key !== 'systems' && key !== 'links') p.push(`${key}: unknown field (expected "systems" and "links")`);
  const sys = json.systems;
  if (!isObject(sys) || Object.keys(sys).length === 0) p.push('systems: must be an object with at least one named system');
  else if (Object.keys(sys).length > TOPOLOGY_SYSTEMS_MAX) p.push(`systems: at most ${TOPOLOGY_SYSTEMS_MAX} systems`);
  const rawLinks = json.links ?? [];
  if (!Array.isArray(rawLinks)) p.push('links: must be a list');
  const numbers = new Map<number, string>();
  const controls = new Map<string, string>();
  const linkCount = new Map<string, number>();
  // Links first: each system's link numbers and adapters go into its configuration.
  if (isObject(sys) && Array.isArray(rawLinks)) {
    rawLinks.forEach((l: unknown, i) => {
      const where = `links[${i}]`;
      if (!isObject(l)) return void p.push(`${where}: must be an object with "between"`);
      for (const key of Object.keys(l)) if (!['between', 'tcp', 'adapters'].includes(key)) p.push(`${where}.${key}: unknown field (expected between, tcp, adapters)`);
      const between = l.between;
      if (!Array.isArray(between) || between.length !== 2 || !between.every((n) => typeof n === 'string')) return void p.push(`${where}.between: must name two systems, e.g. ["tokyo", "osaka"]`);
      const [a, b] = between as [string, string];
      if (a === b) return void p.push(`${where}.between: a link joins two different systems, got "${a}" twice`);
      for (const n of [a, b]) if (!isObject(sys[n])) p.push(`${where}.between: system "${n}" is not defined in systems`);
      let tcp: TopologyLink['tcp'] = null;
      if (l.tcp !== undefined) {
        const address = parseAddress(l.tcp, base);
        if (!address || address.kind !== 'tcp') p.push(`${where}.tcp: "${String(l.tcp)}" must be host:port (port 1..65535)`);
        else tcp = { host: address.host, port: address.port };
      }
      const adapters = l.adapters ?? [];
      if (!Array.isArray(adapters) || (adapters.length !== 0 && adapters.length !== 2) || !adapters.every((x) => isInt(x, 0, 63))) {
        p.push(`${where}.adapters: must be two channel adapter numbers [a, b] (0-based)`);
        return;
      }
      if (!isObject(sys[a]) || !isObject(sys[b])) return;
      const end = (name: string, k: number): TopologyLink['a'] => {
        const n = (linkCount.get(name) ?? 0) + 1;
        linkCount.set(name, n);
        const ca = (sys[name] as Json).channelAdapters ?? 2;
        const adapter = (adapters as number[])[k] ?? (isInt(ca, 1, 64) ? ca - 1 : 0);
        if (isInt(ca, 1, 64) && adapter >= ca) p.push(`${where}.adapters[${k}]: ${adapter} is not a channel adapter of "${name}" (0..${ca - 1})`);
        return { system: name, link: n, adapter };
      };
      links.push({ a: end(a, 0), b: end(b, 1), tcp });
    });
  }
  if (isObject(sys)) {
    for (const [name, raw] of Object.entries(sys)) {
      const where = `systems.${name}`;
      if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(name)) p.push(`${where}: a system name is a letter then letters, digits, '-' or '_' (at most 32)`);
      if (!isObject(raw)) {
        p.push(`${where}: must be an object`);
        continue;
      }
      for (const key of Object.keys(raw)) if (!SYSTEM_KEYS.has(key)) p.push(`${where}.${key}: unknown field`);
      const before = p.length;
      if (!isInt(raw.number, 1, 0xffff)) p.push(`${where}.number: ${JSON.stringify(raw.number)} must be an integer 1..65535`);
      else if (numbers.has(raw.number)) p.push(`${where}.number: ${raw.number} is already the number of "${numbers.get(raw.number)}"`);
      else numbers.set(raw.number, name);
      const ca = raw.channelAdapters ?? 2;
      const da = raw.diskAdapters ?? 1;
      if (!isInt(ca, 1, 64)) p.push(`${where}.channelAdapters: ${JSON.stringify(ca)} must be an integer 1..64`);
      if (!isInt(da, 1, 64)) p.push(`${where}.diskAdapters: ${JSON.stringify(da)} must be an integer 1..64`);
      const cacheMiB = raw.cacheMiB ?? 16;
      if (!isInt(cacheMiB, 1, TOPOLOGY_CACHE_MIB_MAX)) p.push(`${where}.cacheMiB: ${JSON.stringify(cacheMiB)} must be an integer 1..${TOPOLOGY_CACHE_MIB_MAX}`);
      const transferKiB = raw.maxTransferKiB ?? 256;
      if (!isInt(transferKiB, 1, 16 * 1024)) p.push(`${where}.maxTransferKiB: ${JSON.stringify(transferKiB)} must be an integer 1..16384`);
      const control = parseAddress(raw.control, base);
      if (!control) p.push(`${where}.control: ${JSON.stringify(raw.control)} must be host:port or a Unix socket path`);
      else if (controls.has(formatAddress(control))) p.push(`${where}.control: ${formatAddress(control)} is already the control socket of "${controls.get(formatAddress(control))}"`);
      else controls.set(formatAddress(control), name);

      const drives: SystemConfig['drives'] = [];
      if (!Array.isArray(raw.drives) || raw.drives.length === 0) p.push(`${where}.drives: must be a list of at least one drive`);
      else raw.drives.forEach((d: unknown, i) => {
        const w = `${where}.drives[${i}]`;
        if (!isObject(d)) return void p.push(`${w}: must be an object`);
        if (!isInt(d.number, 0, 0xfffe)) p.push(`${w}.number: ${JSON.stringify(d.number)} must be an integer 0..65534`);
        if (d.kind !== 'memory' && d.kind !== 'file') p.push(`${w}.kind: ${JSON.stringify(d.kind)} must be "memory" or "file"`);
        if (d.kind === 'file' && (typeof d.path !== 'string' || d.path.length === 0)) p.push(`${w}.path: a file drive needs a path`);
        if (!isSize(d.sizeMiB, TOPOLOGY_DRIVE_MIB_MAX)) p.push(`${w}.sizeMiB: ${JSON.stringify(d.sizeMiB)} must be a positive whole number of 512-byte blocks up to ${TOPOLOGY_DRIVE_MIB_MAX} MiB`);
        const drive: SystemConfig['drives'][number] = { number: d.number as number, kind: d.kind as 'memory' | 'file', blockCount: Math.round(((d.sizeMiB as number) * MiB) / BLOCK_BYTES) };
        if (d.kind === 'file' && typeof d.path === 'string') drive.path = isAbsolute(d.path) ? d.path : join(base, d.path);
        drives.push(drive);
      });
      const volumes: SystemConfig['volumes'] = [];
      const nextOffset = new Map<number, number>();
      if (!Array.isArray(raw.volumes)) p.push(`${where}.volumes: must be a list`);
      else raw.volumes.forEach((v: unknown, i) => {
        const w = `${where}.volumes[${i}]`;
        if (!isObject(v)) return void p.push(`${w}: must be an object`);
        if (!isInt(v.number, 1, 4095)) p.push(`${w}.number: ${JSON.stringify(v.number)} must be an integer 1..4095`);
        if (!isInt(v.drive, 0, 0xfffe)) p.push(`${w}.drive: ${JSON.stringify(v.drive)} must name a drive`);
        if (!isSize(v.sizeMiB, TOPOLOGY_DRIVE_MIB_MAX)) p.push(`${w}.sizeMiB: ${JSON.stringify(v.sizeMiB)} must be a positive whole number of 512-byte blocks`);
        if (v.offsetMiB !== undefined && !(typeof v.offsetMiB === 'number' && v.offsetMiB >= 0 && Number.isInteger((v.offsetMiB * MiB) / BLOCK_BYTES))) p.push(`${w}.offsetMiB: ${JSON.stringify(v.offsetMiB)} must be a non-negative whole number of blocks`);
        const blocks = Math.round(((v.sizeMiB as number) * MiB) / BLOCK_BYTES);
        // Volumes without an offset are packed one after another on their drive.
        const start = v.offsetMiB !== undefined ? Math.round(((v.offsetMiB as number) * MiB) / BLOCK_BYTES) : nextOffset.get(v.drive as number) ?? 0;
        nextOffset.set(v.drive as number, start + blocks);
        volumes.push({ number: v.number as number, format: 'OPEN3', capacityBlocks: blocks, drive: v.drive as number, startBlock: start });
      });
      const groups: GroupSetup[] = [];
      if (raw.groups !== undefined && !Array.isArray(raw.groups)) p.push(`${where}.groups: must be a list`);
      else (raw.groups as unknown[] | undefined ?? []).forEach((g: unknown, i) => {
        const w = `${where}.groups[${i}]`;
        if (!isObject(g)) return void p.push(`${w}: must be an object`);
        if (!isInt(g.group, 1, 255)) p.push(`${w}.group: ${JSON.stringify(g.group)} must be an integer 1..255`);
        if (g.role !== 'primary' && g.role !== 'secondary') p.push(`${w}.role: ${JSON.stringify(g.role)} must be "primary" or "secondary"`);
        if (g.role === 'secondary' && (typeof g.partner !== 'string' || !isObject(sys[g.partner]))) p.push(`${w}.partner: ${JSON.stringify(g.partner)} must name the primary system (a system of this file)`);
        if (g.role === 'secondary' && typeof g.partner === 'string' && !links.some((l) => (l.a.system === name && l.b.system === g.partner) || (l.b.system === name && l.a.system === g.partner))) {
          p.push(`${w}.partner: no link joins "${name}" and "${g.partner}"`);
        }
        if (g.journalVolume !== undefined && !(Array.isArray(raw.volumes) && raw.volumes.some((v) => isObject(v) && v.number === g.journalVolume))) p.push(`${w}.journalVolume: ${JSON.stringify(g.journalVolume)} is not a volume of "${name}"`);
        const setup: GroupSetup = { group: g.group as number, role: g.role as 'primary' | 'secondary' };
        if (typeof g.partner === 'string') setup.partner = g.partner;
        if (typeof g.journalVolume === 'number') setup.journalVolume = g.journalVolume;
        groups.push(setup);
      });
      if (raw.stateFile !== undefined && (typeof raw.stateFile !== 'string' || raw.stateFile.length === 0)) p.push(`${where}.stateFile: must be a path`);
      if (p.length > before) continue;

      const config: SystemConfig = {
        ...DEFAULT_CONFIG,
        systemNumber: raw.number as number,
        name,
        channelAdapters: ca as number,
        diskAdapters: da as number,
        cacheBytes: (cacheMiB as number) * MiB,
        maxTransferBytes: (transferKiB as number) * 1024,
        journalBatchBytes: Math.max(DEFAULT_CONFIG.journalBatchBytes, (transferKiB as number) * 1024 + 2 * BLOCK_BYTES),
        volumesMax: isInt(raw.volumesMax, 1, 4095) ? raw.volumesMax : DEFAULT_CONFIG.volumesMax,
        groupsMax: isInt(raw.groupsMax, 1, 255) ? raw.groupsMax : DEFAULT_CONFIG.groupsMax,
        pairsMax: isInt(raw.pairsMax, 1, 65535) ? raw.pairsMax : DEFAULT_CONFIG.pairsMax,
        drives,
        volumes,
        links: linksOfSystem(name),
      };
      try {
        validateConfig(config);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        for (const problem of e.problems) p.push(`${where}: ${problem}`);
        continue;
      }
      const firstFile = drives.find((d) => d.kind === 'file');
      const stateFile = typeof raw.stateFile === 'string' ? (isAbsolute(raw.stateFile) ? raw.stateFile : join(base, raw.stateFile)) : firstFile ? join(dirname(firstFile.path!), `${name}.state.json`) : null;
      systems.set(name, { name, config, control: control!, groups, stateFile });
    }
  }
  if (p.length > 0) throw new TopologyError(path, p);
  return { path: resolve(path), systems, links };

  /** A system's ends of the topology's links, as its configuration lists them. */
  function linksOfSystem(name: string): SystemConfig['links'] {
    const numberOf = (n: string): number => ((sys as Json)[n] as Json).number as number;
    const out: SystemConfig['links'] = [];
    for (const l of links) {
      if (l.a.system === name) out.push({ number: l.a.link, peerSystem: numberOf(l.b.system), adapter: l.a.adapter });
      if (l.b.system === name) out.push({ number: l.b.link, peerSystem: numberOf(l.a.system), adapter: l.b.adapter });
    }
    return out;
  }
}

/** A system of the topology by name, with a message listing the names there are. */
export function systemOf(t: TopologyFile, name: string): TopologySystem {
  const s = t.systems.get(name);
  if (!s) throw new Error(`unknown system "${name}"; the topology ${t.path} has ${[...t.systems.keys()].join(', ')}`);
  return s;
}

/** The system named by its number. */
export function systemByNumber(t: TopologyFile, number: number): TopologySystem | undefined {
  return [...t.systems.values()].find((s) => s.config.systemNumber === number);
}

/** This system's link to `peer` (its link number on this side). */
export function linkTo(t: TopologyFile, from: string, peer: string): number | null {
  for (const l of t.links) {
    if (l.a.system === from && l.b.system === peer) return l.a.link;
    if (l.b.system === from && l.a.system === peer) return l.b.link;
  }
  return null;
}

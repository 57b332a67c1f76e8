// `journal-scan`: the journals a group's journal volume holds on its drive, read the way a
// recovery after power loss must read them (firmware/journal-scan.ts): no running system, no
// pointer information, only the drive's bytes, each record trusted as far as it checks out.
//
//   journal-scan -s SYSTEM -g G [-v VOLUME] [--from N] [--json]
//
// The group's journal volume comes from the system's state file (what `journal add` registered)
// or else the topology's `groups`; -v names it outright. The rings are laid out as S920 lays them
// out (splitJournalVolume of the volume's capacity, one block per update information). Only file
// drives can be read from here: a memory drive's blocks live in the process that runs the system.
// A running system may hold newer journal data in cache than its drive does: the scan shows what
// a power loss would leave. The command exits 0 whenever the scan ran; what it found (torn tail,
// gap, records missing from --from) is in the report.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { BLOCK_BYTES, type DriveConfig, type SystemConfig } from '../../firmware/config.ts';
import { UI_SLOT_BYTES, splitJournalVolume, type RingGeometry } from '../../firmware/journal-ring.ts';
import { scanJournal, type JournalScanReport } from '../../firmware/journal-scan.ts';
import type { Drive } from '../../hal/drive.ts';
import { FileDrive } from '../../hal/file-drive.ts';
import type { OperatorState } from '../agent.ts';
import type { TopologySystem } from '../topology-file.ts';
import { bytes } from '../format.ts';
import { Context, UsageError } from './context.ts';

export interface SystemJournalScan {
  group: number;
  volume: number;
  drive: number;
  startBlock: number;
  blocks: number;
  geometry: RingGeometry;
  report: JournalScanReport;
}

/**
 * Scans `volume` of a system as `group`'s journal volume, reading its drive through `open`
 * (a file drive for the CLI, any Drive in a test). Throws UsageError if the configuration has no
 * such volume.
 */
export function scanSystemJournal(config: SystemConfig, o: { group: number; volume: number; from?: number; open: (drive: DriveConfig) => Drive }): SystemJournalScan {
  const v = config.volumes.find((x) => x.number === o.volume);
  if (!v) throw new UsageError(`${config.name} has no volume ${o.volume}`);
  const d = config.drives.find((x) => x.number === v.drive);
  if (!d || v.virtual === true) throw new UsageError(`${config.name} volume ${o.volume} has no storage: there is no journal to read`);
  const geometry: RingGeometry = { ...splitJournalVolume(v.capacityBlocks * BLOCK_BYTES), uiSlot: UI_SLOT_BYTES };
  const drive = o.open(d);
  try {
    const report = scanJournal({
      drive, startBlock: v.startBlock, volumeBlocks: v.capacityBlocks, geometry, journalVolume: o.volume, group: o.group,
      dataBlocksMax: config.maxTransferBytes / BLOCK_BYTES, ...(o.from === undefined ? {} : { from: o.from }),
    });
    return { group: o.group, volume: o.volume, drive: d.number, startBlock: v.startBlock, blocks: v.capacityBlocks, geometry, report };
  } finally {
    drive.close();
  }
}

/** The journal volume of `group`: from the state file if it has the group, else from the topology; null if neither says. */
export function journalVolumeOf(system: TopologySystem, group: number): { volume: number; source: string } | null {
  if (system.stateFile && existsSync(system.stateFile)) {
    let state: OperatorState;
    try {
      state = JSON.parse(readFileSync(system.stateFile, 'utf8')) as OperatorState;
    } catch (e) {
      throw new Error(`${system.stateFile}: not a state file (${(e as Error).message})`);
    }
    const saved = Array.isArray(state.groups) ? state.groups.find((g) => g.group === group) : undefined;
    if (saved && Number.isInteger(saved.journalVolume) && saved.journalVolume > 0) return { volume: saved.journalVolume, source: system.stateFile };
  }
  const setup = system.groups.find((g) => g.group === group);
  return setup?.journalVolume === undefined ? null : { volume: setup.journalVolume, source: 'the topology' };
}

/** A file drive opened for reading, after checking it is there and has the configured size (FileDrive.open would create or refuse it). */
function openFileDrive(name: string, d: DriveConfig): Drive {
  if (d.kind !== 'file') throw new UsageError(`${name} drive ${d.number} is a memory drive: its blocks live only in the process that runs the system; journal-scan reads file drives`);
  const path = d.path!;
  if (!existsSync(path)) throw new Error(`${name} drive ${d.number}: ${path} does not exist (has the system ever run?)`);
  const size = statSync(path).size;
  if (size !== d.blockCount * BLOCK_BYTES) throw new Error(`${name} drive ${d.number}: ${path} holds ${size} bytes, the topology says ${d.blockCount * BLOCK_BYTES}`);
  return FileDrive.open(path, d.blockCount);
}

export async function journalScan(ctx: Context): Promise<void> {
  const name = ctx.required('system', 'the system whose journal volume to read');
  const group = ctx.integer('group', undefined, 1, 255);
  const system = ctx.system(name);
  let from: number | undefined;
  const fromText = ctx.option('from');
  if (fromText !== undefined) {
    from = Number(fromText);
    if (!Number.isSafeInteger(from) || from < 1) throw new UsageError(`--from ${fromText}: an update number >= 1`);
  }
  let volume: number;
  let source: string;
  if (ctx.option('volume') !== undefined) {
    volume = ctx.integer('volume', undefined, 1, 4095);
    source = '-v';
  } else {
    const found = journalVolumeOf(system, group);
    if (!found) throw new UsageError(`${name} group ${group} has no journal volume in ${system.stateFile ?? 'a state file'} or the topology; name it with -v VOLUME`);
    ({ volume, source } = found);
  }
  const scan = scanSystemJournal(system.config, { group, volume, ...(from === undefined ? {} : { from }), open: (d) => openFileDrive(name, d) });
  const r = scan.report;
  if (r.status !== 'ok') throw new Error(`${name} journal volume ${volume}: ${r.status}: ${r.problems.join('; ')}`);
  const g = scan.geometry;
  const lines = [
    `${name} group ${group}, journal volume ${volume} (from ${source}) on drive ${scan.drive} blocks ${scan.startBlock}..${scan.startBlock + scan.blocks - 1}: ` +
      `${r.slots} update-information slots [${g.uiHead}, ${g.wdHead}), write data [${g.wdHead}, ${g.capacity})`,
    r.oldest === null
      ? `no journals held (${r.front})`
      : `journals ${r.oldest}..${r.newest}: ${r.records} records, ${bytes(r.dataBytes)} of write data${r.recordsWithoutData > 0 ? `, ${r.recordsWithoutData} with their data in the primary volume` : ''}`,
  ];
  const row = (label: string, value: string): number => lines.push(`  ${label.padEnd(19)} ${value}`);
  if (r.oldest !== null) {
    row('update information', `oldest ${r.uiOldest}, next ${r.uiNewest}`);
    row('write data', r.wdOldest === null ? 'none in the ring' : `oldest ${r.wdOldest}, next ${r.wdNewest}`);
    row('front', r.front);
  }
  row('torn tail', r.tornTail === null ? 'none' : `slot ${r.tornTail.slot} (position ${r.tornTail.position}): ${r.tornTail.reason}`);
  row('discarded after gap', String(r.discardedAfterGap));
  if (r.from !== null) row(`from ${r.from}`, r.fromHeld ? 'every record held' : 'NOT all held');
  row('slots', `${r.slotsBlank} blank, ${r.slotsDamaged} damaged; highest update number found ${r.highest}`);
  lines.push(r.problems.length === 0 ? 'no problems' : `problems:\n${r.problems.map((p) => `  - ${p}`).join('\n')}`);
  ctx.print(lines.join('\n'), { system: name, source, ...scan });
}

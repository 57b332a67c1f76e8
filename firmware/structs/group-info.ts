// Group information 600 (seed 000 §4.3, seed 002 §5.3): one record per group number; record 0 reserved.
// The seeds' fields come first; the rest is what a working remote copy needs that the seeds leave
// open (marked "model"), each explained in docs/decisions.md.
//
//  off size field                  meaning
//    0    4 number                 group number
//    4    1 state                  GroupState: 未使用 unused, 正常 normal, 異常 abnormal, 障害 failure (seed 000 §11 item 9)
//    5    1 role                   GroupRole: none, primary (journals are created here), secondary (journals are restored here)
//    6    1 journal_volume_count   0, 1 or 2 (seed 000 §7.1 item 1)
//    7    1 pair_count             entries used in pair_set
//    8    4 journal_volume_0       journal logical volume number
//   12    4 journal_volume_1       second journal volume (variant), 0 otherwise
//   16    8 update_number          float64: the next update number to assign; initial value 1
//   24    4 partner_system         on a secondary: the primary's system number (seed 002 §5.5 "mapping the model must add")
//   28    4 partner_group          on a secondary: the primary's group number A for journal read commands
//   32    8 restored_number        float64: on a secondary, the last update number restored (0 = none)
//   40    4 link_number            model: on a secondary, the link its journal reads use
//   44    1 read_policy            model: ReadPolicy, how the next journal read is timed (S1760)
//   45    1 store_policy           model: StorePolicy, what a failed journal store does (S1755)
//   46    1 suspend_reason         model: SuspendReason of the group's pairs, 0 = not suspended
//   47    1 flags                  model: GroupFlag bits
//   48    4 read_interval_ms       model: base interval of journal reads (S1725, S1760)
//   52    4 batch_journals_max     model: journals per journal read response at most ([0105])
//   56    4 link_timeout_ms        model: journal reads failing this long suspend the pairs
//   60    4 initial_copy_blocks    model: initial-copy unit (seed: "e.g. 1 MB")
//   64    8 restored_time_ms       float64, model: receive time of the last restored write (RPO)
//   72    8 journals_created       float64 counter (primary) / journals stored (secondary)
//   80    8 journals_sent          float64 counter (primary) / journals received (secondary)
//   88    8 journals_restored      float64 counter (secondary)
//   96    8 last_contact_ms        float64, model: last journal read served (primary) or answered (secondary)
//  104    8 received_number        float64, model: on a secondary, the highest update number stored
//  112    8 primary_usage          float64, model: on a secondary, the primary's journal usage 0..1 from the last response
//  120    8 failing_since_ms       float64, model: on a secondary, when journal reads started failing, 0 = healthy
//  128    1 release_mode         model: on a secondary, which batches its journal reads release (ReleaseMode, [0107])
//  129    1 read_window          model: on a secondary, journal read commands in flight at most (1 = the seed's protocol)
//  130    6 read_links           model: u16[3], further links of journal reads (0 = none), same primary system and adapter
//  136   56 reserved
//  192   64 pair_set               u16[32]: pair numbers of the group's pairs
//
// update_number is written only under the group's lock (the journal hot path); it is a float64
// so it never needs BigInt and counts exactly up to 2^53.

import { assert } from '../assert.ts';
import { RecordTable, defineStruct } from './struct.ts';

export const GroupState = { UNUSED: 0, NORMAL: 1, ABNORMAL: 2, FAILURE: 3 } as const;
export type GroupStateCode = (typeof GroupState)[keyof typeof GroupState];
export const GROUP_STATE_NAME = ['unused', 'normal', 'abnormal', 'failure'] as const;

export const GroupRole = { NONE: 0, PRIMARY: 1, SECONDARY: 2 } as const;
export const GROUP_ROLE_NAME = ['none', 'primary', 'secondary'] as const;

/** S1760: how the secondary times its next journal read (claims 1–6). */
export const ReadPolicy = { IMMEDIATE: 0, FIXED: 1, RECEIVED: 2, OWN_USAGE: 3, PRIMARY_USAGE: 4, LOAD: 5, TRAFFIC: 6 } as const;
export const READ_POLICY_NAME = ['immediate', 'fixed', 'received', 'own-usage', 'primary-usage', 'load', 'traffic'] as const;
/** S1755: discard and ask for a retry, or keep the journals in cache and store again later. */
export const StorePolicy = { DISCARD_RETRY: 0, HOLD: 1 } as const;
export const SuspendReason = { NONE: 0, JOURNAL_FULL: 1, LINK: 2, OPERATOR: 3, JOURNAL_VOLUME: 4 } as const;
export const SUSPEND_REASON_NAME = ['none', 'journal full', 'link failure', 'operator', 'journal volume failure'] as const;
export const GroupFlag = { COPY_STARTED: 1, TAKEN_OVER: 2, RESYNC_PENDING: 4, READ_STOPPED: 8, RESTORE_PAUSED: 16 } as const;

export const GROUP_PAIRS_MAX = 32;
/** Links one secondary group may read over (link_number and read_links). */
export const READ_LINKS_MAX = 4;

export const GROUP_INFO = defineStruct('group-info-600', 256, [
  { name: 'number', offset: 0, size: 4, type: 'u32', meaning: 'group number' },
  { name: 'state', offset: 4, size: 1, type: 'u8', meaning: 'group state' },
  { name: 'role', offset: 5, size: 1, type: 'u8', meaning: 'primary or secondary side' },
  { name: 'journal_volume_count', offset: 6, size: 1, type: 'u8', meaning: 'journal volumes registered' },
  { name: 'pair_count', offset: 7, size: 1, type: 'u8', meaning: 'pair set entries' },
  { name: 'journal_volume_0', offset: 8, size: 4, type: 'u32', meaning: 'journal logical volume' },
  { name: 'journal_volume_1', offset: 12, size: 4, type: 'u32', meaning: 'second journal logical volume' },
  { name: 'update_number', offset: 16, size: 8, type: 'f64', meaning: 'next update number to assign' },
  { name: 'partner_system', offset: 24, size: 4, type: 'u32', meaning: 'primary system of a secondary group' },
  { name: 'partner_group', offset: 28, size: 4, type: 'u32', meaning: 'primary group of a secondary group' },
  { name: 'restored_number', offset: 32, size: 8, type: 'f64', meaning: 'last restored update number' },
  { name: 'link_number', offset: 40, size: 4, type: 'u32', meaning: 'link of journal reads' },
  { name: 'read_policy', offset: 44, size: 1, type: 'u8', meaning: 'journal read timing policy' },
  { name: 'store_policy', offset: 45, size: 1, type: 'u8', meaning: 'journal store failure policy' },
  { name: 'suspend_reason', offset: 46, size: 1, type: 'u8', meaning: 'why the pairs are suspended' },
  { name: 'flags', offset: 47, size: 1, type: 'u8', meaning: 'group flags' },
  { name: 'read_interval_ms', offset: 48, size: 4, type: 'u32', meaning: 'journal read interval' },
  { name: 'batch_journals_max', offset: 52, size: 4, type: 'u32', meaning: 'journals per response' },
  { name: 'link_timeout_ms', offset: 56, size: 4, type: 'u32', meaning: 'failing reads before suspend' },
  { name: 'initial_copy_blocks', offset: 60, size: 4, type: 'u32', meaning: 'initial-copy unit' },
  { name: 'restored_time_ms', offset: 64, size: 8, type: 'f64', meaning: 'receive time of last restored write' },
  { name: 'journals_created', offset: 72, size: 8, type: 'f64', meaning: 'journals created or stored' },
  { name: 'journals_sent', offset: 80, size: 8, type: 'f64', meaning: 'journals sent or received' },
  { name: 'journals_restored', offset: 88, size: 8, type: 'f64', meaning: 'journals restored' },
  { name: 'last_contact_ms', offset: 96, size: 8, type: 'f64', meaning: 'last journal read exchange' },
  { name: 'received_number', offset: 104, size: 8, type: 'f64', meaning: 'highest update number stored' },
  { name: 'primary_usage', offset: 112, size: 8, type: 'f64', meaning: 'primary journal usage 0..1' },
  { name: 'failing_since_ms', offset: 120, size: 8, type: 'f64', meaning: 'journal reads failing since' },
  { name: 'release_mode', offset: 128, size: 1, type: 'u8', meaning: 'release mode of journal reads' },
  { name: 'read_window', offset: 129, size: 1, type: 'u8', meaning: 'journal reads in flight at most' },
  { name: 'read_links', offset: 130, size: 6, type: 'u16[]', meaning: 'further links of journal reads' },
  { name: 'pair_set', offset: 192, size: 64, type: 'u16[]', meaning: 'pair numbers in the group' },
]);

const O = GROUP_INFO.offsets;
type U8Field = 'read_policy' | 'store_policy' | 'suspend_reason' | 'flags' | 'state' | 'role' | 'release_mode' | 'read_window';
type U32Field = 'link_number' | 'read_interval_ms' | 'batch_journals_max' | 'link_timeout_ms' | 'initial_copy_blocks';
type F64Field = 'update_number' | 'restored_number' | 'restored_time_ms' | 'journals_created' | 'journals_sent' | 'journals_restored' |
  'last_contact_ms' | 'received_number' | 'primary_usage' | 'failing_since_ms';

export class GroupTable extends RecordTable {
  constructor(buffer: SharedArrayBuffer, byteOffset: number, count: number) {
    super(GROUP_INFO, buffer, byteOffset, count);
  }
  exists(g: number): boolean { return Number.isInteger(g) && g >= 1 && g < this.count; }
  state(g: number): GroupStateCode { return this.view.getUint8(this.at(g) + O.state) as GroupStateCode; }
  setState(g: number, state: GroupStateCode): void { this.view.setUint8(this.at(g) + O.state, state); }
  role(g: number): number { return this.view.getUint8(this.at(g) + O.role); }
  setRole(g: number, role: number): void { this.view.setUint8(this.at(g) + O.role, role); }
  u8(g: number, f: U8Field): number { return this.view.getUint8(this.at(g) + O[f]); }
  setU8(g: number, f: U8Field, v: number): void { this.view.setUint8(this.at(g) + O[f], v); }
  u32(g: number, f: U32Field): number { return this.view.getUint32(this.at(g) + O[f], true); }
  setU32(g: number, f: U32Field, v: number): void { this.view.setUint32(this.at(g) + O[f], v, true); }
  f64(g: number, f: F64Field): number { return this.view.getFloat64(this.at(g) + O[f], true); }
  setF64(g: number, f: F64Field, v: number): void { this.view.setFloat64(this.at(g) + O[f], v, true); }
  addF64(g: number, f: F64Field, v: number): void { const at = this.at(g) + O[f]; this.view.setFloat64(at, this.view.getFloat64(at, true) + v, true); }
  hasFlag(g: number, flag: number): boolean { return (this.view.getUint8(this.at(g) + O.flags) & flag) !== 0; }
  setFlag(g: number, flag: number, on: boolean): void {
    const at = this.at(g) + O.flags;
    const v = this.view.getUint8(at);
    this.view.setUint8(at, on ? v | flag : v & ~flag);
  }
  journalVolume(g: number, which: 0 | 1 = 0): number {
    return this.view.getUint32(this.at(g) + (which === 0 ? O.journal_volume_0 : O.journal_volume_1), true);
  }
  setJournalVolume(g: number, which: 0 | 1, volume: number): void {
    const base = this.at(g);
    this.view.setUint32(base + (which === 0 ? O.journal_volume_0 : O.journal_volume_1), volume, true);
    const count = (this.view.getUint32(base + O.journal_volume_0, true) !== 0 ? 1 : 0) + (this.view.getUint32(base + O.journal_volume_1, true) !== 0 ? 1 : 0);
    this.view.setUint8(base + O.journal_volume_count, count);
  }
  updateNumber(g: number): number { return this.view.getFloat64(this.at(g) + O.update_number, true); }
  setUpdateNumber(g: number, n: number): void { this.view.setFloat64(this.at(g) + O.update_number, n, true); }
  partnerSystem(g: number): number { return this.view.getUint32(this.at(g) + O.partner_system, true); }
  partnerGroup(g: number): number { return this.view.getUint32(this.at(g) + O.partner_group, true); }
  setPartner(g: number, system: number, group: number): void {
    const base = this.at(g);
    this.view.setUint32(base + O.partner_system, system, true);
    this.view.setUint32(base + O.partner_group, group, true);
  }
  restoredNumber(g: number): number { return this.view.getFloat64(this.at(g) + O.restored_number, true); }
  setRestoredNumber(g: number, n: number): void { this.view.setFloat64(this.at(g) + O.restored_number, n, true); }
  pairCount(g: number): number { return this.view.getUint8(this.at(g) + O.pair_count); }
  pairAt(g: number, index: number): number {
    assert(index >= 0 && index < this.pairCount(g), `group ${g}: pair set index ${index} out of range`);
    return this.view.getUint16(this.at(g) + O.pair_set + index * 2, true);
  }
  /** Adds a pair to the pair set; false when the set is full (GROUP_PAIRS_MAX). */
  addPair(g: number, pair: number): boolean {
    const base = this.at(g);
    const count = this.view.getUint8(base + O.pair_count);
    if (count >= GROUP_PAIRS_MAX) return false;
    this.view.setUint16(base + O.pair_set + count * 2, pair, true);
    this.view.setUint8(base + O.pair_count, count + 1);
    return true;
  }
  /** Removes a pair from the pair set, keeping the order of the others; false if absent. */
  removePair(g: number, pair: number): boolean {
    const base = this.at(g);
    const count = this.view.getUint8(base + O.pair_count);
    for (let i = 0; i < count; i++) {
      if (this.view.getUint16(base + O.pair_set + i * 2, true) !== pair) continue;
      for (let j = i; j < count - 1; j++) this.view.setUint16(base + O.pair_set + j * 2, this.view.getUint16(base + O.pair_set + (j + 1) * 2, true), true);
      this.view.setUint16(base + O.pair_set + (count - 1) * 2, 0, true);
      this.view.setUint8(base + O.pair_count, count - 1);
      return true;
    }
    return false;
  }
  /** Link `i` of a secondary group's journal reads: 0 is link_number, 1..READ_LINKS_MAX-1 the further ones (0 = none). */
  readLink(g: number, i: number): number {
    return i === 0 ? this.view.getUint32(this.at(g) + O.link_number, true) : this.view.getUint16(this.at(g) + O.read_links + (i - 1) * 2, true);
  }
  setReadLink(g: number, i: number, link: number): void {
    assert(i >= 1 && i < READ_LINKS_MAX, `group ${g}: read link index ${i} out of range`);
    this.view.setUint16(this.at(g) + O.read_links + (i - 1) * 2, link, true);
  }
  /** Group creation (S900): 未使用 → 正常 with the update number at its initial value 1. */
  create(g: number, role: number): void {
    this.clear(g);
    const base = this.at(g);
    this.view.setUint32(base + O.number, g, true);
    this.view.setUint8(base + O.state, GroupState.NORMAL);
    this.view.setUint8(base + O.role, role);
    this.view.setFloat64(base + O.update_number, 1, true);
  }
}

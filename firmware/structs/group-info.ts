// Group information 600 (seed 000 §4.3, seed 002 §5.3): one record per group number; record 0 reserved.
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
//   40   24 reserved
//   64   64 pair_set               u16[32]: pair numbers of the group's pairs
//
// update_number is written only under the group's lock (the journal hot path); it is a float64
// so it never needs BigInt and counts exactly up to 2^53.

import { assert } from '../assert.ts';
import { RecordTable, defineStruct } from './struct.ts';

export const GroupState = { UNUSED: 0, NORMAL: 1, ABNORMAL: 2, FAILURE: 3 } as const;
export type GroupStateCode = (typeof GroupState)[keyof typeof GroupState];
export const GROUP_STATE_NAME = ['unused', 'normal', 'abnormal', 'failure'] as const;

export const GroupRole = { NONE: 0, PRIMARY: 1, SECONDARY: 2 } as const;

export const GROUP_PAIRS_MAX = 32;

export const GROUP_INFO = defineStruct('group-info-600', 128, [
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
  { name: 'pair_set', offset: 64, size: 64, type: 'u16[]', meaning: 'pair numbers in the group' },
]);

const O = GROUP_INFO.offsets;

export class GroupTable extends RecordTable {
  constructor(buffer: SharedArrayBuffer, byteOffset: number, count: number) {
    super(GROUP_INFO, buffer, byteOffset, count);
  }
  state(g: number): GroupStateCode { return this.view.getUint8(this.at(g) + O.state) as GroupStateCode; }
  setState(g: number, state: GroupStateCode): void { this.view.setUint8(this.at(g) + O.state, state); }
  role(g: number): number { return this.view.getUint8(this.at(g) + O.role); }
  setRole(g: number, role: number): void { this.view.setUint8(this.at(g) + O.role, role); }
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

// Configuration validation: every bad field is reported as a ConfigError naming the field, and
// every problem of a configuration is reported at once.

import { describe, expect, it, test } from 'vitest';
import { allocateSystem } from '../../firmware/boot.ts';
import { ConfigError, DEFAULT_CONFIG, processorCount, validateConfig, type LinkConfig, type SystemConfig } from '../../firmware/config.ts';
import { smallConfig } from '../support/harness.ts';

/** The problems validateConfig reports for `config`; fails the test if it accepts it. */
function problemsOf(config: SystemConfig): string[] {
  let caught: unknown;
  try {
    validateConfig(config);
  } catch (error) {
    caught = error;
  }
  expect(caught, 'validateConfig accepted a bad configuration').toBeInstanceOf(ConfigError);
  return (caught as ConfigError).problems;
}

/** smallConfig() with one drive or volume entry replaced (a deep enough copy for each case). */
function withDrive(index: number, patch: Record<string, unknown>): SystemConfig {
  const c = smallConfig();
  c.drives = c.drives.map((d, i) => (i === index ? { ...d, ...patch } as typeof d : { ...d }));
  return c;
}
function withVolume(index: number, patch: Record<string, unknown>): SystemConfig {
  const c = smallConfig();
  c.volumes = c.volumes.map((v, i) => (i === index ? { ...v, ...patch } as typeof v : { ...v }));
  return c;
}
/** smallConfig() (system 1, channel adapters 0 and 1) with two good links, one of them patched. */
const GOOD_LINKS: readonly LinkConfig[] = [{ number: 1, peerSystem: 2, adapter: 0 }, { number: 2, peerSystem: 3, adapter: 1 }];
function withLink(index: number, patch: Record<string, unknown>): SystemConfig {
  return smallConfig({ links: GOOD_LINKS.map((l, i) => (i === index ? { ...l, ...patch } as LinkConfig : { ...l })) });
}

describe('validateConfig accepts good configurations', () => {
  test('DEFAULT_CONFIG', () => {
    expect(validateConfig(DEFAULT_CONFIG)).toBe(DEFAULT_CONFIG);
    expect(processorCount(DEFAULT_CONFIG)).toBe(3);
  });

  test('smallConfig()', () => {
    const c = smallConfig();
    expect(validateConfig(c)).toBe(c);
  });

  test('edge values that are allowed', () => {
    // Exactly 8 slots; mailbox exactly twice the queue depth; a volume ending on the drive's
    // last block; adjacent (touching, not overlapping) volumes; a file drive with a path;
    // an empty format and an 8-character one; explicit states.
    const c = smallConfig({
      cacheBytes: 8 * 4096,
      mailboxCapacity: 8,
      hostQueueDepth: 4,
      maxTransferBytes: 512,
      drives: [
        { number: 0, kind: 'memory', blockCount: 1024 },
        { number: 65534, kind: 'file', blockCount: 10, path: '/tmp/drive.img' },
      ],
      volumes: [
        { number: 1, capacityBlocks: 512, drive: 0, startBlock: 0, format: '' },
        { number: 64, capacityBlocks: 512, drive: 0, startBlock: 512, format: 'ABCDEFGH', state: 'unused' },
        { number: 2, capacityBlocks: 10, drive: 65534, startBlock: 0, state: 'normal' },
      ],
    });
    expect(() => validateConfig(c)).not.toThrow();
    expect(() => validateConfig(smallConfig({ slotBytes: 65536, cacheBytes: 8 * 65536 }))).not.toThrow();
    expect(() => validateConfig(smallConfig({ volumes: [] }))).not.toThrow();
  });

  test('journalBatchBytes: the default, the bounds, and exactly one largest write plus 1024', () => {
    expect(DEFAULT_CONFIG.journalBatchBytes).toBe(1024 * 1024);
    expect(smallConfig().journalBatchBytes).toBe(1024 * 1024);
    for (const journalBatchBytes of [64 * 1024, 64 * 1024 + 512, 1024 * 1024, 16 * 1024 * 1024 - 512, 16 * 1024 * 1024]) {
      expect(() => validateConfig(smallConfig({ journalBatchBytes })), String(journalBatchBytes)).not.toThrow();
    }
    // maxTransferBytes 256 KiB: 256 KiB + 1024 is the smallest batch that holds one largest write.
    expect(() => validateConfig(smallConfig({ maxTransferBytes: 256 * 1024, journalBatchBytes: 256 * 1024 + 1024 }))).not.toThrow();
    // The largest transfer with the largest batch.
    expect(() => validateConfig(smallConfig({ maxTransferBytes: 16 * 1024 * 1024 - 1024, journalBatchBytes: 16 * 1024 * 1024 }))).not.toThrow();
  });

  test('links: none, one, and the full range of numbers, peers and adapters', () => {
    expect(DEFAULT_CONFIG.links).toEqual([]);
    expect(() => validateConfig(smallConfig({ links: [] }))).not.toThrow();
    expect(() => validateConfig(smallConfig({ links: [...GOOD_LINKS] }))).not.toThrow();
    expect(() => validateConfig(smallConfig({ links: [{ number: 8, peerSystem: 65535, adapter: 1 }] }))).not.toThrow();
    // Eight links (the most there are), several to the same peer and on the same adapter; a
    // system number other than 1, with system 1 as the peer.
    const eight = Array.from({ length: 8 }, (_, i) => ({ number: 8 - i, peerSystem: 1 + (i % 2), adapter: i % 4 }));
    expect(() => validateConfig(smallConfig({ systemNumber: 3, channelAdapters: 4, links: eight }))).not.toThrow();
  });
});

describe('validateConfig rejects each bad field, naming it', () => {
  // [label, config, field path that must appear in one problem, extra fragment of that problem]
  const cases: Array<[string, () => SystemConfig, string, string]> = [
    ['systemNumber 0', () => smallConfig({ systemNumber: 0 }), 'systemNumber', '0 must be an integer 1..65535'],
    ['systemNumber 65536', () => smallConfig({ systemNumber: 65536 }), 'systemNumber', 'must be an integer 1..65535'],
    ['channelAdapters 0', () => smallConfig({ channelAdapters: 0 }), 'channelAdapters', 'at least one channel adapter'],
    ['diskAdapters 0', () => smallConfig({ diskAdapters: 0 }), 'diskAdapters', 'at least one disk adapter'],
    ['slotBytes 3000', () => smallConfig({ slotBytes: 3000 }), 'slotBytes', '3000 must be a power of two from 4096 to 65536'],
    ['slotBytes 131072', () => smallConfig({ slotBytes: 131072, cacheBytes: 16 * 131072 }), 'slotBytes', '131072 must be a power of two'],
    ['slotBytes 2048', () => smallConfig({ slotBytes: 2048 }), 'slotBytes', 'must be a power of two'],
    ['cacheBytes not a multiple of slotBytes', () => smallConfig({ cacheBytes: 16 * 4096 + 512 }), 'cacheBytes', 'is not a multiple of slotBytes 4096'],
    ['fewer than 8 slots', () => smallConfig({ cacheBytes: 7 * 4096 }), 'cacheBytes', 'fewer than 8 cache slots'],
    ['cacheBytes 0', () => smallConfig({ cacheBytes: 0 }), 'cacheBytes', 'must be a positive integer'],
    ['mailboxCapacity not a power of two', () => smallConfig({ mailboxCapacity: 24 }), 'mailboxCapacity', 'must be a power of two'],
    ['mailboxCapacity below twice hostQueueDepth', () => smallConfig({ mailboxCapacity: 4, hostQueueDepth: 4 }), 'mailboxCapacity', 'at least twice hostQueueDepth'],
    ['maxTransferBytes not a multiple of 512', () => smallConfig({ maxTransferBytes: 1000 }), 'maxTransferBytes', 'must be a multiple of 512'],
    ['maxTransferBytes 0', () => smallConfig({ maxTransferBytes: 0 }), 'maxTransferBytes', 'must be a multiple of 512'],
    ['volumesMax 0', () => smallConfig({ volumesMax: 0, volumes: [] }), 'volumesMax', 'must be an integer 1..4095'],
    ['groupsMax 256', () => smallConfig({ groupsMax: 256 }), 'groupsMax', 'must be an integer 1..255'],
    ['readersMax 0', () => smallConfig({ readersMax: 0 }), 'readersMax', 'must be an integer 1..16'],
    ['hostQueueDepth 0', () => smallConfig({ hostQueueDepth: 0 }), 'hostQueueDepth', 'must be an integer 1..1024'],
    ['destageBatchSlots 0', () => smallConfig({ destageBatchSlots: 0 }), 'destageBatchSlots', 'must be an integer 1..4096'],
    ['duplicate drive number', () => {
      const c = smallConfig();
      c.drives = [...c.drives, { number: 1, kind: 'memory', blockCount: 8 }];
      return c;
    }, 'drives[2].number', 'drive 1 is defined twice'],
    ['negative drive number', () => withDrive(0, { number: -1 }), 'drives[0].number', '-1 must be an integer 0..65534'],
    ['unknown drive kind', () => withDrive(1, { kind: 'tape' }), 'drives[1].kind', "'tape' must be 'memory' or 'file'"],
    ['file drive without path', () => withDrive(1, { kind: 'file' }), 'drives[1].path', 'a file drive needs a path'],
    ['file drive with an empty path', () => withDrive(0, { kind: 'file', path: '' }), 'drives[0].path', 'a file drive needs a path'],
    ['drive blockCount 0', () => withDrive(0, { blockCount: 0 }), 'drives[0].blockCount', 'must be an integer 1..2^32-1'],
    ['no drives', () => smallConfig({ drives: [], volumes: [] }), 'drives', 'at least one drive is required'],
    ['volume number 0', () => withVolume(0, { number: 0 }), 'volumes[0].number', '0 must be an integer 1..volumesMax (64)'],
    ['volume number > volumesMax', () => withVolume(2, { number: 65 }), 'volumes[2].number', '65 must be an integer 1..volumesMax (64)'],
    ['duplicated volume number', () => withVolume(1, { number: 1 }), 'volumes[1].number', 'volume 1 is defined twice'],
    ['volume capacity 0', () => withVolume(1, { capacityBlocks: 0 }), 'volumes[1].capacityBlocks', 'must be an integer 1..2^31-1'],
    ['volume on a missing drive', () => withVolume(1, { drive: 7 }), 'volumes[1].drive', 'drive 7 is not defined'],
    ['volume past the end of its drive', () => withVolume(1, { startBlock: 1000, capacityBlocks: 100 }), 'volumes[1]', 'blocks 1000..1099 do not fit on drive 0 of 1024 blocks'],
    ['volume with a negative start', () => withVolume(1, { startBlock: -1 }), 'volumes[1]', 'do not fit on drive 0'],
    ['two overlapping volumes', () => withVolume(1, { startBlock: 200 }), 'volumes[1]', 'overlaps volume 1 on drive 0'],
    ['format longer than 8 characters', () => withVolume(0, { format: 'OPEN-V-LONG' }), 'volumes[0].format', 'must be printable ASCII of at most 8 characters'],
    ['format with a control character', () => withVolume(0, { format: 'OP\u0001N' }), 'volumes[0].format', 'must be printable ASCII'],
    ['format with non-ASCII', () => withVolume(0, { format: 'ÖPEN' }), 'volumes[0].format', 'must be printable ASCII'],
    ['format not a string', () => withVolume(0, { format: 3 }), 'volumes[0].format', 'must be printable ASCII'],
    ['bad volume state', () => withVolume(2, { state: 'primary' }), 'volumes[2].state', "'primary' must be 'normal' or 'unused'"],
    ['journalBatchBytes below 64 KiB', () => smallConfig({ journalBatchBytes: 64 * 1024 - 512 }), 'journalBatchBytes', '65024 must be a multiple of 512 from 64 KiB to 16 MiB'],
    ['journalBatchBytes above 16 MiB', () => smallConfig({ journalBatchBytes: 16 * 1024 * 1024 + 512 }), 'journalBatchBytes', 'must be a multiple of 512 from 64 KiB to 16 MiB'],
    ['journalBatchBytes not a multiple of 512', () => smallConfig({ journalBatchBytes: 100_000 }), 'journalBatchBytes', '100000 must be a multiple of 512'],
    ['journalBatchBytes 0', () => smallConfig({ journalBatchBytes: 0 }), 'journalBatchBytes', 'must be a multiple of 512'],
    ['journalBatchBytes not an integer', () => smallConfig({ journalBatchBytes: 65536.5 }), 'journalBatchBytes', 'must be a multiple of 512'],
    ['journalBatchBytes that cannot hold one largest write with its update information',
      () => smallConfig({ maxTransferBytes: 256 * 1024, journalBatchBytes: 256 * 1024 + 512 }), 'journalBatchBytes', 'hold one largest write with its update information'],
    ['journalBatchBytes equal to maxTransferBytes',
      () => smallConfig({ maxTransferBytes: 1024 * 1024, journalBatchBytes: 1024 * 1024 }), 'journalBatchBytes', 'hold one largest write'],
    ['link number 0', () => withLink(0, { number: 0 }), 'links[0].number', '0 must be an integer 1..8'],
    ['link number 9', () => withLink(1, { number: 9 }), 'links[1].number', '9 must be an integer 1..8'],
    ['link number not an integer', () => withLink(0, { number: 1.5 }), 'links[0].number', 'must be an integer 1..8'],
    ['duplicate link number', () => withLink(1, { number: 1 }), 'links[1].number', 'link 1 is defined twice'],
    ['link to its own system', () => withLink(1, { peerSystem: 1 }), 'links[1].peerSystem', "1 must be another system's number 1..65535"],
    ['link peer system 0', () => withLink(0, { peerSystem: 0 }), 'links[0].peerSystem', "0 must be another system's number"],
    ['link peer system 65536', () => withLink(0, { peerSystem: 65536 }), 'links[0].peerSystem', "65536 must be another system's number 1..65535"],
    ['link on a channel adapter that does not exist', () => withLink(1, { adapter: 2 }), 'links[1].adapter', '2 must name a channel adapter 0..1'],
    ['link on a negative adapter', () => withLink(0, { adapter: -1 }), 'links[0].adapter', '-1 must name a channel adapter 0..1'],
    ['link adapter not an integer', () => withLink(0, { adapter: 0.5 }), 'links[0].adapter', 'must name a channel adapter'],
  ];

  for (const [label, make, field, fragment] of cases) {
    test(label, () => {
      const problems = problemsOf(make());
      const hit = problems.find((p) => p.includes(field) && p.includes(fragment));
      expect(hit, `no problem names '${field}' with '${fragment}' in ${JSON.stringify(problems)}`).toBeDefined();
      // The problem names the field at its start: "field: ..." or "field.sub: ...".
      expect(must(hit).startsWith(field)).toBe(true);
    });
  }

  // One bad field yields one problem (no cascade of follow-on complaints), except where the
  // follow-on statements are themselves true: a 131072-byte slot or a zero-byte cache also
  // gives fewer than 8 slots; a drive that is missing or has no blocks also leaves the volumes
  // defined on it without a home.
  const cascading = ['slotBytes 131072', 'cacheBytes 0', 'no drives', 'negative drive number', 'drive blockCount 0'];
  const single = cases.filter(([label]) => !cascading.includes(label));
  test.each(single.map(([label, make]) => [label, make] as const))('%s is reported exactly once', (_label, make) => {
    expect(problemsOf(make())).toHaveLength(1);
  });

  test('a ConfigError is an Error whose message lists the problems', () => {
    let caught: unknown;
    try {
      validateConfig(smallConfig({ diskAdapters: 0 }));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.name).toBe('ConfigError');
    expect(error.message).toBe(`invalid configuration:\n  - ${must(error.problems[0])}`);
  });

  test('three problems are reported all at once', () => {
    const c = withVolume(1, { drive: 9 });
    c.systemNumber = 0;
    c.maxTransferBytes = 1000;
    const problems = problemsOf(c);
    expect(problems).toHaveLength(3);
    expect(problems.some((p) => p.startsWith('systemNumber'))).toBe(true);
    expect(problems.some((p) => p.startsWith('maxTransferBytes'))).toBe(true);
    expect(problems.some((p) => p.startsWith('volumes[1].drive'))).toBe(true);
    let message = '';
    try {
      validateConfig(c);
    } catch (error) {
      message = (error as Error).message;
    }
    for (const p of problems) expect(message).toContain(p);
  });

  test('a link with every field bad reports each field under its own path', () => {
    const c = smallConfig({ links: [{ ...GOOD_LINKS[0]! }, { ...GOOD_LINKS[1]! }, { number: 12, peerSystem: 1, adapter: 5 }] });
    const problems = problemsOf(c);
    expect(problems).toHaveLength(3);
    expect(problems.some((p) => p.startsWith('links[2].number: 12 must be an integer 1..8'))).toBe(true);
    expect(problems.some((p) => p.startsWith("links[2].peerSystem: 1 must be another system's number"))).toBe(true);
    expect(problems.some((p) => p.startsWith('links[2].adapter: 5 must name a channel adapter 0..1'))).toBe(true);
  });

  test('a bad journalBatchBytes and a bad link are reported together with the other problems', () => {
    const c = withLink(0, { adapter: 7 });
    c.journalBatchBytes = 1000;
    c.systemNumber = 0;
    const problems = problemsOf(c);
    expect(problems.some((p) => p.startsWith('systemNumber'))).toBe(true);
    expect(problems.some((p) => p.startsWith('journalBatchBytes: 1000'))).toBe(true);
    expect(problems.some((p) => p.startsWith('links[0].adapter: 7'))).toBe(true);
  });

  test('allocateSystem validates first: a bad configuration never allocates', () => {
    expect(() => allocateSystem(smallConfig({ slotBytes: 3000 }))).toThrow(ConfigError);
  });
});

describe('validateConfig: values at and beyond 2^32', () => {
  // BUG (firmware/config.ts, isPow2): `(n & (n - 1)) === 0` works on int32s, so any integer
  // multiple of 2^32 (and e.g. 1.5 * 2^32, whose low 32 bits are 2^31) passes as a power of
  // two. mailboxCapacity has no upper bound either, so such values pass validateConfig and
  // fail later in Mailbox (RangeError "capacity ... must be a power of two in [2, 2^30]").
  it('rejects a mailboxCapacity of 1.5 * 2^32 (not a power of two)', () => {
    const problems = problemsOf(smallConfig({ mailboxCapacity: 1.5 * 2 ** 32 }));
    expect(problems.some((p) => p.startsWith('mailboxCapacity'))).toBe(true);
  });

  it('rejects a mailboxCapacity above the mailbox maximum 2^30 with a ConfigError', () => {
    const problems = problemsOf(smallConfig({ mailboxCapacity: 2 ** 31 }));
    expect(problems.some((p) => p.startsWith('mailboxCapacity'))).toBe(true);
  });
});

function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('missing value');
  return value;
}

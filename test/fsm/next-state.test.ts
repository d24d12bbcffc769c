import { describe, expect, it } from 'vitest';
import { FsmError, MigFlags, MigState, nextState, parseStateName, planPath, stateName, arcKey } from '../../src/fsm/index.js';

/**
 * What Linux `vfio_mig_get_next_state()` (drivers/vfio/vfio_main.c) returns, for every
 * (current state, target) pair under each flag set a driver may report. Rows: current state;
 * columns: target, both in kernel order ERROR STOP RUNNING STOP_COPY RESUMING RUNNING_P2P
 * PRE_COPY PRE_COPY_P2P. Computed by hand-running the kernel loop (table lookup, then skip
 * states the flags lack) over `vfio_from_fsm_table`/`state_flags_table` as they stand in the
 * kernel source; STOP_COPY -> PRE_COPY* is -EINVAL as in the 2026 stable fix.
 */
const KERNEL: Record<string, Record<string, string>> = {
  'STOP_COPY': {
    ERROR:         'EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL',
    STOP:          'EINVAL STOP RUNNING STOP_COPY RESUMING EINVAL EINVAL EINVAL',
    RUNNING:       'EINVAL STOP RUNNING STOP STOP EINVAL EINVAL EINVAL',
    STOP_COPY:     'EINVAL STOP STOP STOP_COPY STOP EINVAL EINVAL EINVAL',
    RESUMING:      'EINVAL STOP STOP STOP RESUMING EINVAL EINVAL EINVAL',
    RUNNING_P2P:   'EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL',
    PRE_COPY:      'EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL',
    PRE_COPY_P2P:  'EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL',
  },
  'STOP_COPY|P2P': {
    ERROR:         'EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL',
    STOP:          'EINVAL STOP RUNNING_P2P STOP_COPY RESUMING RUNNING_P2P EINVAL EINVAL',
    RUNNING:       'EINVAL RUNNING_P2P RUNNING RUNNING_P2P RUNNING_P2P RUNNING_P2P EINVAL EINVAL',
    STOP_COPY:     'EINVAL STOP STOP STOP_COPY STOP STOP EINVAL EINVAL',
    RESUMING:      'EINVAL STOP STOP STOP RESUMING STOP EINVAL EINVAL',
    RUNNING_P2P:   'EINVAL STOP RUNNING STOP STOP RUNNING_P2P EINVAL EINVAL',
    PRE_COPY:      'EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL',
    PRE_COPY_P2P:  'EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL',
  },
  'STOP_COPY|PRE_COPY': {
    ERROR:         'EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL',
    STOP:          'EINVAL STOP RUNNING STOP_COPY RESUMING EINVAL RUNNING EINVAL',
    RUNNING:       'EINVAL STOP RUNNING STOP STOP EINVAL PRE_COPY EINVAL',
    STOP_COPY:     'EINVAL STOP STOP STOP_COPY STOP EINVAL EINVAL EINVAL',
    RESUMING:      'EINVAL STOP STOP STOP RESUMING EINVAL STOP EINVAL',
    RUNNING_P2P:   'EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL',
    PRE_COPY:      'EINVAL RUNNING RUNNING STOP_COPY RUNNING EINVAL PRE_COPY EINVAL',
    PRE_COPY_P2P:  'EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL',
  },
  'STOP_COPY|P2P|PRE_COPY': {
    ERROR:         'EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL',
    STOP:          'EINVAL STOP RUNNING_P2P STOP_COPY RESUMING RUNNING_P2P RUNNING_P2P RUNNING_P2P',
    RUNNING:       'EINVAL RUNNING_P2P RUNNING RUNNING_P2P RUNNING_P2P RUNNING_P2P PRE_COPY RUNNING_P2P',
    STOP_COPY:     'EINVAL STOP STOP STOP_COPY STOP STOP EINVAL EINVAL',
    RESUMING:      'EINVAL STOP STOP STOP RESUMING STOP STOP STOP',
    RUNNING_P2P:   'EINVAL STOP RUNNING STOP STOP RUNNING_P2P RUNNING PRE_COPY_P2P',
    PRE_COPY:      'EINVAL RUNNING RUNNING PRE_COPY_P2P RUNNING RUNNING PRE_COPY PRE_COPY_P2P',
    PRE_COPY_P2P:  'EINVAL RUNNING_P2P RUNNING_P2P STOP_COPY RUNNING_P2P RUNNING_P2P PRE_COPY PRE_COPY_P2P',
  },};

const FLAG_SETS: Record<string, number> = {
  STOP_COPY: MigFlags.STOP_COPY,
  'STOP_COPY|P2P': MigFlags.STOP_COPY | MigFlags.P2P,
  'STOP_COPY|PRE_COPY': MigFlags.STOP_COPY | MigFlags.PRE_COPY,
  'STOP_COPY|P2P|PRE_COPY': MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY,
};
const ORDER = ['ERROR', 'STOP', 'RUNNING', 'STOP_COPY', 'RESUMING', 'RUNNING_P2P', 'PRE_COPY', 'PRE_COPY_P2P'];

const cases = Object.entries(KERNEL).flatMap(([flagsName, rows]) =>
  Object.entries(rows).flatMap(([cur, row]) =>
    row.split(' ').map((expected, i) => ({ flagsName, cur, target: ORDER[i]!, expected })),
  ),
);

describe('nextState matches the kernel for all 4 x 64 pairs', () => {
  it('covers 256 cases', () => {
    expect(cases).toHaveLength(256);
  });

  it.each(cases)('$flagsName: $cur -> $target = $expected', ({ flagsName, cur, target, expected }) => {
    const flags = FLAG_SETS[flagsName]!;
    const from = parseStateName(cur)!;
    const to = parseStateName(target)!;
    if (expected === 'EINVAL') {
      expect(() => nextState(from, to, flags)).toThrow(FsmError);
      try {
        nextState(from, to, flags);
      } catch (e) {
        expect((e as FsmError).code).toBe('EINVAL');
      }
    } else {
      expect(stateName(nextState(from, to, flags))).toBe(expected);
    }
  });
});

describe('nextState rejects what the kernel rejects', () => {
  it('rejects every request when the flags lack STOP_COPY', () => {
    for (const flags of [0, MigFlags.P2P, MigFlags.PRE_COPY, MigFlags.P2P | MigFlags.PRE_COPY]) {
      expect(() => nextState(MigState.RUNNING, MigState.STOP, flags)).toThrow(/STOP_COPY is mandatory/);
    }
  });

  it('rejects STOP_COPY -> PRE_COPY instead of spinning (2026 fix)', () => {
    expect(() => nextState(MigState.STOP_COPY, MigState.PRE_COPY, 7)).toThrow(/blocked/);
    expect(() => nextState(MigState.STOP_COPY, MigState.PRE_COPY_P2P, 7)).toThrow(/blocked/);
  });

  it('rejects numbers that are not states', () => {
    expect(() => nextState(8 as MigState, MigState.STOP, 7)).toThrow(FsmError);
    expect(() => nextState(MigState.STOP, -1 as MigState, 7)).toThrow(FsmError);
  });

  it('names the request in the error message', () => {
    expect(() => nextState(MigState.RUNNING, MigState.PRE_COPY, MigFlags.STOP_COPY)).toThrow(
      'EINVAL: RUNNING -> PRE_COPY with flags STOP_COPY: target state PRE_COPY is not supported by the device',
    );
  });
});

/** The combination transitions the kernel's own comment lists for a device with every flag. */
const KERNEL_COMMENT_PATHS = [
  'PRE_COPY PRE_COPY_P2P STOP_COPY',
  'PRE_COPY RUNNING RUNNING_P2P',
  'PRE_COPY RUNNING RUNNING_P2P STOP',
  'PRE_COPY RUNNING RUNNING_P2P STOP RESUMING',
  'PRE_COPY_P2P RUNNING_P2P RUNNING',
  'PRE_COPY_P2P RUNNING_P2P STOP',
  'PRE_COPY_P2P RUNNING_P2P STOP RESUMING',
  'RESUMING STOP RUNNING_P2P',
  'RESUMING STOP RUNNING_P2P PRE_COPY_P2P',
  'RESUMING STOP RUNNING_P2P RUNNING',
  'RESUMING STOP RUNNING_P2P RUNNING PRE_COPY',
  'RESUMING STOP STOP_COPY',
  'RUNNING RUNNING_P2P PRE_COPY_P2P',
  'RUNNING RUNNING_P2P STOP',
  'RUNNING RUNNING_P2P STOP RESUMING',
  'RUNNING RUNNING_P2P STOP STOP_COPY',
  'RUNNING_P2P RUNNING PRE_COPY',
  'RUNNING_P2P STOP RESUMING',
  'RUNNING_P2P STOP STOP_COPY',
  'STOP RUNNING_P2P PRE_COPY_P2P',
  'STOP RUNNING_P2P RUNNING',
  'STOP RUNNING_P2P RUNNING PRE_COPY',
  'STOP_COPY STOP RESUMING',
  'STOP_COPY STOP RUNNING_P2P',
  'STOP_COPY STOP RUNNING_P2P RUNNING',
];

describe('planPath', () => {
  it.each(KERNEL_COMMENT_PATHS)('expands %s as the kernel comment says', (line) => {
    const [first, ...rest] = line.split(' ').map((n) => parseStateName(n)!);
    const target = rest[rest.length - 1]!;
    expect(planPath(first!, target, 7).map(stateName)).toEqual(rest.map(stateName));
  });

  it('skips P2P states a STOP_COPY-only device lacks', () => {
    expect(planPath(MigState.RUNNING, MigState.STOP_COPY, MigFlags.STOP_COPY).map(stateName)).toEqual([
      'STOP',
      'STOP_COPY',
    ]);
  });

  it('is empty when already at the target', () => {
    expect(planPath(MigState.RUNNING, MigState.RUNNING, 7)).toEqual([]);
  });

  it('rejects ERROR as a source even when the target equals it', () => {
    expect(() => planPath(MigState.ERROR, MigState.ERROR, 7)).toThrow(FsmError);
  });

  it('keys arcs as FROM>TO', () => {
    expect(arcKey(MigState.RUNNING, MigState.STOP)).toBe('RUNNING>STOP');
  });
});

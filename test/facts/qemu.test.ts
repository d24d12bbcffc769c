import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  QEMU_AUTO_CONVERGE,
  QEMU_BUFFER_DELAY_MS,
  QEMU_DEFAULT_DOWNTIME_LIMIT_MS,
  QEMU_FAILED_SIZE_QUERY_BYTES,
  QEMU_MAX_BANDWIDTH_DEFAULT_BYTES_PER_S,
  QEMU_MAX_DOWNTIME_LIMIT_MS,
  QEMU_THROTTLE_TRIGGER,
} from '../../src/facts/qemu.js';
import { FAILED_SIZE_QUERY_BYTES } from '../../src/governor/decide.js';
import { DEFAULT_WATCH_DEADLINE_MS } from '../../src/app/watch/watch-qemu.js';
import { parseQmpLog } from '../../src/qemu/qmp-log.js';
import { migrationToRecords } from '../../src/qemu/qmp-records.js';
import { AUTO_CONVERGE, KUBEVIRT, POLL_MS } from '../../src/sim/fleet/constants.js';

const SRC = join(import.meta.dirname, '../../src');
const TABLE = 'facts/qemu.ts';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('the table of QEMU facts', () => {
  it('holds the values of QEMU 9.x (migration/options.c, migration/ram.c, hw/vfio/migration.c)', () => {
    expect(QEMU_DEFAULT_DOWNTIME_LIMIT_MS).toBe(300);
    expect(QEMU_MAX_DOWNTIME_LIMIT_MS).toBe(2000 * 1000);
    expect(QEMU_MAX_BANDWIDTH_DEFAULT_BYTES_PER_S).toBe(128 * 2 ** 20);
    expect(QEMU_FAILED_SIZE_QUERY_BYTES).toBe(100 * 2 ** 30);
    expect(QEMU_BUFFER_DELAY_MS).toBe(100);
    expect(QEMU_THROTTLE_TRIGGER).toEqual({ periodMs: 1000, highPeriods: 2, defaultThresholdPct: 50 });
    expect([QEMU_AUTO_CONVERGE.defaultInitialPct, QEMU_AUTO_CONVERGE.defaultIncrementPct, QEMU_AUTO_CONVERGE.defaultMaxPct]).toEqual([20, 10, 99]);
  });

  it('is the only place in src/ that writes a QEMU constant down', () => {
    const copies: string[] = [];
    for (const file of sources(SRC)) {
      const rel = relative(SRC, file);
      if (rel === TABLE) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // A QEMU-named constant set to a number, or the 100 GiB failed-size rule spelt out.
          if (/\bconst\s+(QEMU|QMP)_[A-Z0-9_]+\s*(:[^=]+)?=\s*[\d(]/.test(line) || /\b100\s*\*\s*(GiB|1024\b)/.test(line)) copies.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(copies).toEqual([]);
  });

  it('is what the governor, the QMP log reader, watch and the simulator use', () => {
    expect(FAILED_SIZE_QUERY_BYTES).toBe(QEMU_FAILED_SIZE_QUERY_BYTES);
    expect(DEFAULT_WATCH_DEADLINE_MS).toBe(QEMU_DEFAULT_DOWNTIME_LIMIT_MS);
    expect(POLL_MS).toBe(QEMU_BUFFER_DELAY_MS);
    expect(KUBEVIRT.hardStopDowntimeMs).toBe(QEMU_MAX_DOWNTIME_LIMIT_MS);
    expect(AUTO_CONVERGE).toMatchObject({
      periodMs: QEMU_THROTTLE_TRIGGER.periodMs,
      triggerThreshold: QEMU_THROTTLE_TRIGGER.defaultThresholdPct / 100,
      highPeriodsToTrigger: QEMU_THROTTLE_TRIGGER.highPeriods,
      initialPct: QEMU_AUTO_CONVERGE.defaultInitialPct,
      incrementPct: QEMU_AUTO_CONVERGE.defaultIncrementPct,
      maxPct: QEMU_AUTO_CONVERGE.defaultMaxPct,
    });
    // A log without query-migrate-parameters: the deadline is QEMU's default downtime-limit.
    const log = [
      '{"ts": 1.0, "return": {"status": "active", "ram": {"total": 100, "remaining": 50, "transferred": 50, "mbps": 8, "dirty-pages-rate": 0, "page-size": 4096}}}',
      '{"ts": 2.0, "return": {"status": "completed", "downtime": 12, "total-time": 1000, "ram": {"total": 100, "remaining": 0, "transferred": 100, "mbps": 8, "dirty-pages-rate": 0, "page-size": 4096}}}',
    ].join('\n');
    const [migration] = parseQmpLog(log, 'vm.log').migrations;
    const outcome = migrationToRecords(migration!).find((r) => r.kind === 'outcome');
    expect(outcome).toMatchObject({ deadlineMs: QEMU_DEFAULT_DOWNTIME_LIMIT_MS });
  });
});

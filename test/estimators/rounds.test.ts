import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { precopyRounds } from '../../src/estimators/rounds.js';
import { migrationToRecords, parseQmpLog, type QmpMigration } from '../../src/qemu/qmp-log.js';
import type { RamRecord } from '../../src/records/records.js';
import { datasetRunFiles, HAVE_DATASET } from '../helpers/dataset.js';

const ram = (atMs: number, pass: number, remainingBytes: number, dirtyBytesPerS: number): RamRecord => ({
  kind: 'ram',
  migrationId: 'm',
  atMs,
  pass,
  remainingBytes,
  dirtyBytesPerS,
  bandwidthBytesPerS: 100,
});

describe('precopyRounds', () => {
  it('groups polls by pass, takes medians and compares ρ with the observed shrink', () => {
    const rounds = precopyRounds([ram(400, 2, 300, 30), ram(0, 1, 1000, 10), ram(200, 1, 900, 30), ram(600, 2, 200, 50)]);
    expect(rounds).toEqual([
      { pass: 1, startedAtMs: 0, polls: 2, remainingBytes: 1000, dirtyBytesPerS: 20, bandwidthBytesPerS: 100, rho: 0.2, observedShrink: 0.3 },
      { pass: 2, startedAtMs: 400, polls: 2, remainingBytes: 300, dirtyBytesPerS: 40, bandwidthBytesPerS: 100, rho: 0.4, observedShrink: undefined },
    ]);
  });

  it.skipIf(!HAVE_DATASET)('sees ρ ≈ 1 in the non-convergent dataset runs and ρ < 1 in the convergent ones', () => {
    const rhoOf = (suffix: string): number => {
      const file = datasetRunFiles().find((f) => f.endsWith(suffix)) as string;
      const m = parseQmpLog(readFileSync(file, 'utf8'), file).migrations[0] as QmpMigration;
      const rounds = precopyRounds(migrationToRecords(m).filter((r): r is RamRecord => r.kind === 'ram'));
      const late = rounds.slice(1).map((r) => r.rho).sort((a, b) => a - b);
      return late[Math.floor(late.length / 2)] ?? Number.NaN;
    };
    expect(rhoOf('Precopy_Nonconvergent_16T/mig-stats-run-1.json')).toBeGreaterThan(0.85);
    expect(rhoOf('Precopy_Convergent/mig-stats-run-1.json')).toBeLessThan(0.5);
  });
});

import { describe, expect, it } from 'vitest';
import { ReportError } from '../../src/report/errors.js';
import { parseTimeSpec } from '../../src/report/since.js';

const NOW = Date.UTC(2025, 5, 15, 12, 0, 0);

describe('parseTimeSpec', () => {
  it.each([
    ['2025-03-01', Date.UTC(2025, 2, 1)],
    ['2025-03-01T12:30', Date.UTC(2025, 2, 1, 12, 30)],
    ['2025-03-01 12:30:15', Date.UTC(2025, 2, 1, 12, 30, 15)],
    ['2025-03-01T12:30:00.250Z', Date.UTC(2025, 2, 1, 12, 30, 0, 250)],
    ['2025-03-01T12:30+02:00', Date.UTC(2025, 2, 1, 10, 30)],
    ['1700000000000', 1_700_000_000_000],
    ['0', 0],
    ['90m', NOW - 90 * 60_000],
    ['36h', NOW - 36 * 3_600_000],
    ['7d', NOW - 7 * 86_400_000],
    ['2w', NOW - 14 * 86_400_000],
    ['1.5s', NOW - 1500],
  ])('reads %s', (text, ms) => {
    expect(parseTimeSpec(text, NOW)).toBe(ms);
  });

  it.each(['yesterday', '7 days', '2025-13-45', '-5d', ''])('refuses %j with E_BAD_FILTER', (text) => {
    expect(() => parseTimeSpec(text, NOW)).toThrow(ReportError);
    try {
      parseTimeSpec(text, NOW);
    } catch (e) {
      expect((e as ReportError).code).toBe('E_BAD_FILTER');
      expect((e as Error).message).toContain(`not a time: '${text}'`);
    }
  });
});

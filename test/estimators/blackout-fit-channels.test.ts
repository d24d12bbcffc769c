import { describe, expect, it } from 'vitest';
import { fitBlackout } from '../../src/estimators/blackout-fit.js';
import { MIN_CHANNEL_GROUP_BLACKOUTS } from '../../src/estimators/channels.js';
import type { TransferRecord } from '../../src/records/records.js';

/** `n` stop-copy transfers on `link` at `bytesPerS`, sizes 10–100 MB. */
function transfers(link: string, n: number, bytesPerS: number): TransferRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const bytes = 10e6 + (90e6 * i) / Math.max(1, n - 1);
    return { kind: 'transfer', migrationId: `${link}-${i}`, deviceId: 'ram', phase: 'stopcopy', bytes, durationMs: (bytes / bytesPerS) * 1000, link };
  });
}

describe('fitBlackout per link and multifd channel count', () => {
  it('gives a (link, channels) group with enough blackouts its own rate', () => {
    const fit = fitBlackout([], [...transfers('100G', 40, 2e9), ...transfers('100G@8ch', MIN_CHANNEL_GROUP_BLACKOUTS, 10e9)], {});
    expect(fit.links['100G@8ch']?.medianBytesPerS).toBeGreaterThan(5e9);
    expect(fit.links['100G']?.medianBytesPerS).toBeLessThan(3e9);
  });

  it('folds a smaller group into its link and says so', () => {
    const fit = fitBlackout([], [...transfers('100G', 40, 2e9), ...transfers('100G@8ch', MIN_CHANNEL_GROUP_BLACKOUTS - 1, 10e9)], {});
    expect(fit.links['100G@8ch']).toBeUndefined();
    expect(fit.links['100G']?.n).toBe(40 + MIN_CHANNEL_GROUP_BLACKOUTS - 1);
    expect(fit.links['100G']?.provenance).toContain(`100G@8ch (${MIN_CHANNEL_GROUP_BLACKOUTS - 1})`);
  });
});

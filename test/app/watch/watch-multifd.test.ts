import { describe, expect, it } from 'vitest';
import { multifdOf } from '../../../src/app/watch/watch.js';

describe('watch: channel use of the migration it follows', () => {
  it('takes multifd-channels with the multifd capability, and device state over multifd from QEMU 10.0 on', () => {
    expect(multifdOf(true, 8, '10.0.2')).toEqual({ multifdChannels: 8, deviceStateMultifd: true });
    expect(multifdOf(true, 8, '9.2.0')).toEqual({ multifdChannels: 8 });
  });

  it("uses QEMU's default of 2 channels when the parameters did not say", () => {
    expect(multifdOf(true, undefined, '10.1.0')).toEqual({ multifdChannels: 2, deviceStateMultifd: true });
  });

  it('is the main channel without multifd (device state on it too from QEMU 10.0), and says nothing for an unknown version', () => {
    expect(multifdOf(false, 8, '10.0.0')).toEqual({ deviceStateMultifd: false });
    expect(multifdOf(false, 8, 'unknown')).toEqual({});
  });
});

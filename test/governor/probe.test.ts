import { describe, expect, it } from 'vitest';
import type { MigrationDevice } from '../../src/device/index.js';
import { MigState } from '../../src/fsm/index.js';
import { probeDevices } from '../../src/governor/probe.js';
import { ALL_FLAGS, MiB, arraySink } from './fixtures.js';

function precopyDevice(initialBytes: number, dirtyBytes: number): MigrationDevice {
  return {
    id: 'nic0',
    model: 'mlx5-cx7',
    flags: ALL_FLAGS,
    getState: () => MigState.PRE_COPY,
    setState: () => Promise.resolve(),
    stopCopyBytes: () => Promise.resolve(100 * MiB),
    precopyInfo: () => Promise.resolve({ initialBytes, dirtyBytes }),
  };
}

describe('probeDevices', () => {
  it('records PRECOPY_INFO sizes with the size record when they are sizes', async () => {
    const sink = arraySink();
    const [snap] = await probeDevices([precopyDevice(2 * MiB, 3 * MiB)], 5, { sink, migrationId: 'm' });
    expect(snap).toMatchObject({ stopCopyBytes: 100 * MiB, initialBytes: 2 * MiB, dirtyBytes: 3 * MiB });
    expect(sink.records).toEqual([
      { kind: 'size', migrationId: 'm', deviceId: 'nic0', atMs: 5, stopCopyBytes: 100 * MiB, initialBytes: 2 * MiB, dirtyBytes: 3 * MiB },
    ]);
  });

  it('treats a PRECOPY_INFO answer that is not a size (NaN, negative) like a failed query, never recording NaN', async () => {
    const sink = arraySink();
    const [snap] = await probeDevices([precopyDevice(Number.NaN, -1)], 5, { sink, migrationId: 'm' });
    expect(snap).toEqual({ id: 'nic0', model: 'mlx5-cx7', state: MigState.PRE_COPY, flags: ALL_FLAGS, stopCopyBytes: 100 * MiB });
    expect(sink.records).toEqual([{ kind: 'size', migrationId: 'm', deviceId: 'nic0', atMs: 5, stopCopyBytes: 100 * MiB }]);
  });
});

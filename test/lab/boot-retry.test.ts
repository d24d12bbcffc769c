import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { KernelLab, LabTools } from './kernel-lab.js';
import { bootLabGuest, type LabBootOptions } from './vfio-guest.js';

// A stand-in for QEMU: a shell script that dies at "boot" the first `deaths` times it runs
// (counted in files next to it), then prints the ready marker and waits to be killed.
let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fakeQemu(deaths: number): LabBootOptions {
  dir = mkdtempSync(join(tmpdir(), 'vfio-sla-boot-retry-'));
  const qemu = join(dir, 'fake-qemu');
  writeFileSync(
    qemu,
    `#!/bin/sh
n=$(ls ${dir} | grep -c '^boot-')
touch ${dir}/boot-$n
if [ "$n" -lt ${deaths} ]; then echo "int3: kernel oops at boot"; exit 1; fi
echo "fake-lab: ready"
exec sleep 30
`,
    { mode: 0o755 },
  );
  return {
    name: 'fake-lab',
    tools: { qemu } as LabTools,
    lab: { vmlinuz: '/dev/null', modules: [] } as unknown as KernelLab,
    initramfs: () => Buffer.alloc(0),
    ports: ['ctl'],
    memMiB: 64,
    smp: 1,
    readyMarker: 'fake-lab: ready',
    bootTimeoutMs: 20_000,
  };
}

describe('bootLabGuest', () => {
  it('boots a guest that died before it was ready once more', async () => {
    const options = fakeQemu(1);
    const guest = await bootLabGuest(options);
    try {
      expect(existsSync(join(dir, 'boot-0')) && existsSync(join(dir, 'boot-1'))).toBe(true);
      expect(existsSync(join(dir, 'boot-2'))).toBe(false);
      expect(Object.keys(guest.sockets)).toEqual(['ctl']);
    } finally {
      await guest.stop();
    }
  });

  it('fails when the guest dies a second time', async () => {
    await expect(bootLabGuest(fakeQemu(2))).rejects.toThrow(/exited \(code 1/);
    expect(existsSync(join(dir, 'boot-1'))).toBe(true);
    expect(existsSync(join(dir, 'boot-2'))).toBe(false);
  });
});

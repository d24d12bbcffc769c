/**
 * The VFIO lab for tests: one guest per test file, booted before the file's tests and stopped
 * after them, with a {@link VfioHelperClient} on its helper port. Outside CI a host without the
 * lab's tools skips the tests with a line saying what to install; under CI (`CI` set, not
 * `false`/`0`) it fails them.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { VfioHelperClient } from '../../src/vfio/vfio-helper-client.js';
import { labReadiness, prepareLab, startLabGuest, type LabGuest } from './vfio-guest.js';

export const IN_CI = (process.env['CI'] ?? '') !== '' && process.env['CI'] !== 'false' && process.env['CI'] !== '0';
const readiness = labReadiness();
/** True when the lab tests of this file are skipped. */
export const SKIP_LAB = !readiness.ok && !IN_CI;
if (!readiness.ok && SKIP_LAB) {
  console.warn(`VFIO lab tests skipped (CI is not set): ${readiness.reason}; the lab also downloads Debian's linux-image/headers/kbuild/source 6.12 packages with apt-get download`);
}
export const labTitle = (name: string): string => (SKIP_LAB ? `${name} (skipped: no VFIO lab tools on this host)` : name);

export interface LabSession {
  readonly guest: LabGuest;
  readonly client: VfioHelperClient;
}

/** mtty's mdev parent and its dual-port type (`samples/vfio-mdev/mtty.c`: `mtty_types[1]`, driver name "mtty"). */
export const MTTY_PARENT = 'mtty';
export const MTTY_TYPE = 'mtty-2';

/** Creates an mtty mdev in the guest; returns its UUID. */
export async function createMtty(client: VfioHelperClient): Promise<string> {
  const uuid = randomUUID();
  await client.request('create', { parent: MTTY_PARENT, type: MTTY_TYPE, uuid });
  return uuid;
}

/** mdpy, an mdev display without migration support (`samples/vfio-mdev/mdpy.c`, type "vga"). */
export async function createMdpy(client: VfioHelperClient): Promise<string> {
  const uuid = randomUUID();
  await client.request('create', { parent: 'mdpy', type: 'mdpy-vga', uuid });
  return uuid;
}

/** Boots a lab guest before the file's tests (building the lab if needed) and stops it after. */
export function useLab(): () => LabSession {
  let session: LabSession | undefined;
  beforeAll(async () => {
    if (!readiness.ok) throw new Error(`VFIO lab: ${readiness.reason}`);
    const built = await prepareLab(readiness.tools);
    if (built.lab.buildMs > 0) console.info(`VFIO lab built in ${(built.lab.buildMs / 1000).toFixed(1)} s (${built.lab.packages.version})`);
    const guest = await startLabGuest({ tools: readiness.tools, ...built });
    console.info(`VFIO lab guest ready in ${guest.bootMs.toFixed(0)} ms (kernel ${built.lab.packages.release})`);
    session = { guest, client: new VfioHelperClient(guest.socket) };
  }, 900_000);
  afterAll(async () => {
    if (process.env['VFIO_SLA_LAB_CONSOLE'] === '1') console.info(session?.guest.process.console);
    await session?.client.close().catch(() => undefined);
    await session?.guest.stop();
  }, 60_000);
  return () => {
    if (session === undefined) throw new Error('the VFIO lab guest did not start');
    return session;
  };
}

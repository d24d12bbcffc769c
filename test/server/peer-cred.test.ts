/**
 * The per-peer shares' parts that need no server: the default shares, and building and loading
 * native/peer-cred.c (the server side is in socket.test.ts).
 */
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPeerCredReader } from '../../src/server/peer-cred.js';
import { defaultPeerShares } from '../../src/server/server.js';
import { skipWithout } from '../helpers/ci.js';

const NOBODY = 65534;

describe('per-peer connection shares', () => {
  it('default shares: ¾ of the slots per uid, ½ per process, at least one each', () => {
    expect([64, 8, 2, 1].map(defaultPeerShares)).toEqual([
      { perUid: 48, perPid: 32 },
      { perUid: 6, perPid: 4 },
      { perUid: 2, perPid: 1 },
      { perUid: 1, perPid: 1 },
    ]);
  });
});

describe('building the peer-credential module', () => {
  let cache: string;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), 'vsla-peercred-'));
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  it('says which compiler is missing', () => {
    const r = loadPeerCredReader({ cacheDir: cache, compiler: '/nonexistent/cc' });
    expect(r).toEqual({ available: false, reason: "per-peer connection shares are off: no C compiler '/nonexistent/cc' (install gcc, or set CC)" });
  });

  it("says where Node's headers were looked for", () => {
    const r = loadPeerCredReader({ cacheDir: cache, includeDirs: [join(cache, 'no-include')] });
    expect(r).toEqual({ available: false, reason: `per-peer connection shares are off: Node's headers (node_api.h) are not in ${join(cache, 'no-include')}: install Node with its headers` });
  });

  it('does not load a cached module that others could have written', () => {
    const first = loadPeerCredReader({ cacheDir: cache });
    if (skipWithout(first.available, 'peer-credential module test', first.available ? '' : first.reason)) return;
    const [key] = readdirSync(cache);
    const built = join(cache, key as string, 'peer-cred.node');
    chmodSync(built, 0o666);
    const r = loadPeerCredReader({ cacheDir: cache });
    expect(r.available).toBe(false);
    expect(r.available ? '' : r.reason).toContain(`${built} is not a file of ours alone (owner uid ${process.getuid?.() ?? 0}, mode 666): not loading it`);
  });

  /** A copy of a good build under a path never loaded (the dynamic loader reuses a path it loaded), then spoilt. */
  function corruptCopy(): string | undefined {
    const first = loadPeerCredReader({ cacheDir: join(cache, 'good') });
    if (skipWithout(first.available, 'peer-credential module test', first.available ? '' : first.reason)) return undefined;
    cpSync(join(cache, 'good'), join(cache, 'spoilt'), { recursive: true });
    const [key] = readdirSync(join(cache, 'spoilt'));
    const built = join(cache, 'spoilt', key as string, 'peer-cred.node');
    writeFileSync(built, 'not an ELF file', { mode: 0o600 });
    return built;
  }

  it('does not load a module under a directory others may write to (they could swap its folder), but does under a sticky one', () => {
    const outer = join(cache, 'shared');
    mkdirSync(outer);
    const inner = join(outer, 'cache');
    const first = loadPeerCredReader({ cacheDir: inner });
    if (skipWithout(first.available, 'peer-credential module test', first.available ? '' : first.reason)) return;
    chmodSync(outer, 0o777);
    const r = loadPeerCredReader({ cacheDir: inner });
    expect(r.available).toBe(false);
    expect(r.available ? '' : r.reason).toContain(`${outer}, above ${join(inner, readdirSync(inner)[0] as string, 'peer-cred.node')}, could be changed by others (owner uid ${process.getuid?.() ?? 0}, mode 777): not loading it`);
    // Writable by all with the sticky bit, as /tmp is: only an entry's owner may rename it.
    chmodSync(outer, 0o1777);
    expect(loadPeerCredReader({ cacheDir: inner }).available).toBe(true);
  });

  it('builds a cached module that does not load (cut short, corrupt) again', () => {
    const built = corruptCopy();
    if (built === undefined) return;
    const r = loadPeerCredReader({ cacheDir: join(cache, 'spoilt') });
    expect(r.available ? r.mechanism : r.reason).toBe(`SO_PEERCRED (${built})`);
  });

  it('says why when a corrupt cached module cannot be built again', () => {
    const built = corruptCopy();
    if (built === undefined) return;
    const r = loadPeerCredReader({ cacheDir: join(cache, 'spoilt'), compiler: '/nonexistent/cc' });
    expect(r.available ? '' : r.reason).toMatch(/ did not load \(.*\) and cannot be rebuilt: no C compiler '\/nonexistent\/cc' \(install gcc, or set CC\)$/);
    expect(r.available ? '' : r.reason).toContain(`per-peer connection shares are off: ${built} did not load (`);
  });

  it('does not load a module planted in the cache by another uid', () => {
    if (process.getuid?.() !== 0) return; // chown needs root; the mode check above covers the rest
    const first = loadPeerCredReader({ cacheDir: cache });
    if (skipWithout(first.available, 'peer-credential module test', first.available ? '' : first.reason)) return;
    const [key] = readdirSync(cache);
    const dir = join(cache, key as string);
    chownSync(join(dir, 'peer-cred.node'), NOBODY, NOBODY);
    const r = loadPeerCredReader({ cacheDir: cache });
    expect(r.available ? '' : r.reason).toContain('is not a file of ours alone (owner uid 65534');
  });
});

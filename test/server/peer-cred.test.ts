/**
 * The per-peer shares' parts that need no server: the default shares, and building and loading
 * native/peer-cred.c (the server side is in socket.test.ts).
 */
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
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

import { describe, expect, it } from 'vitest';
import { guestInitramfs } from '../qemu/guest/guest-image.js';
import { findLabTools, labCacheRoot, moduleDepends } from './kernel-lab.js';

describe('lab builder pieces', () => {
  it('reads depends= from a module .modinfo section', () => {
    const modinfo = Buffer.from('\0license=GPL\0depends=vfio,mdev\0name=x\0', 'latin1');
    expect(moduleDepends(modinfo)).toEqual(['vfio', 'mdev']);
    expect(moduleDepends(Buffer.from('\0depends=\0name=vfio\0', 'latin1'))).toEqual([]);
    expect(moduleDepends(Buffer.from('no modinfo here'))).toEqual([]);
  });

  it('keeps its cache outside the clone: VFIO_SLA_LAB_CACHE, then XDG_CACHE_HOME', () => {
    expect(labCacheRoot({ VFIO_SLA_LAB_CACHE: '/x/lab' })).toBe('/x/lab');
    expect(labCacheRoot({ XDG_CACHE_HOME: '/c' })).toBe('/c/vfio-sla/lab');
  });

  it('an initramfs lists every parent directory before the files in it', () => {
    const archive = guestInitramfs(import.meta.filename, '#!/bin/sh\n', [{ name: 'lib/modules/x.ko', data: Buffer.from('ko') }]).toString('latin1');
    const at = (name: string): number => archive.indexOf(`${name}\0`);
    expect(at('lib')).toBeGreaterThan(0);
    expect(at('lib')).toBeLessThan(at('lib/modules'));
    expect(at('lib/modules')).toBeLessThan(at('lib/modules/x.ko'));
    expect(at('dev/console')).toBeGreaterThan(0);
    expect(archive).toContain('TRAILER!!!');
  });

  it('names the package of a missing tool instead of throwing', () => {
    const found = findLabTools({ VFIO_SLA_BUSYBOX: '/nonexistent/busybox', VFIO_SLA_QEMU: '/nonexistent/qemu', PATH: '' });
    expect(found.ok).toBe(false);
    expect(found.ok ? [] : found.missing).toContain('a static busybox (apt-get install busybox-static)');
  });
});

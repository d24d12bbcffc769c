import { describe, expect, it } from 'vitest';
import { inCi } from './ci.js';

describe('inCi', () => {
  it.each([
    [{}, false],
    [{ CI: '' }, false],
    [{ CI: 'false' }, false],
    [{ CI: 'FALSE' }, false],
    [{ CI: '0' }, false],
    [{ CI: 'true' }, true],
    [{ CI: '1' }, true],
    [{ CI: 'yes' }, true],
  ] as const)('reads %o as CI: %s', (env, expected) => {
    expect(inCi(env)).toBe(expected);
  });
});

import { describe, expect, it } from 'vitest';
import { hasStringCode, isJsonObject } from '../../src/json/guards.js';

describe('isJsonObject', () => {
  it.each([
    [{}, true],
    [{ a: 1 }, true],
    [Object.create(null) as object, true],
    [null, false],
    [[], false],
    [[{}], false],
    ['{}', false],
    [1, false],
    [undefined, false],
  ])('%j is an object: %s', (v, expected) => {
    expect(isJsonObject(v)).toBe(expected);
  });
});

describe('hasStringCode', () => {
  it('takes a string code, refuses a number, a missing code and a non-object', () => {
    expect(hasStringCode(Object.assign(new Error('x'), { code: 'EBUSY' }))).toBe(true);
    expect(hasStringCode({ code: 'E_BAD' })).toBe(true);
    expect(hasStringCode({ code: 16 })).toBe(false);
    expect(hasStringCode(new Error('x'))).toBe(false);
    expect(hasStringCode('EBUSY')).toBe(false);
    expect(hasStringCode(null)).toBe(false);
  });
});

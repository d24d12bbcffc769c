import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LineSplitter } from '../../src/qemu/qmp-framing.js';

describe('LineSplitter', () => {
  it('returns whole lines without their \\r\\n and keeps a partial line for later', () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}\r\n{"b"')).toEqual(['{"a":1}']);
    expect(s.pendingBytes).toBe(4);
    expect(s.push(':2}\r')).toEqual([]);
    expect(s.push('\n')).toEqual(['{"b":2}']);
    expect(s.pendingBytes).toBe(0);
  });

  it('splits coalesced messages and skips blank lines', () => {
    expect(new LineSplitter().push('{"a":1}\r\n\r\n{"b":2}\n{"c":3}\r\n')).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('yields the same lines however the stream is chunked', () => {
    const line = fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }).filter((l) => !l.includes('\n') && !l.endsWith('\r') && l.trim() !== '');
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (lines, cutSeeds) => {
        const text = lines.map((l) => `${l}\r\n`).join('');
        const cuts = [...new Set(cutSeeds.map((c) => (text.length === 0 ? 0 : c % text.length)))].sort((a, b) => a - b);
        const s = new LineSplitter();
        const out: string[] = [];
        let from = 0;
        // Cut the bytes, not the string: a read may split a UTF-8 character.
        const bytes = Buffer.from(text, 'utf8');
        for (const to of [...cuts.map((c) => Math.round((c / Math.max(1, text.length)) * bytes.length)), bytes.length]) {
          out.push(...s.push(bytes.subarray(from, to)));
          from = to;
        }
        expect(out).toEqual(lines);
        expect(s.pendingBytes).toBe(0);
      }),
    );
  });

  it('refuses an unterminated line longer than its limit', () => {
    const s = new LineSplitter(8);
    expect(() => s.push('0123456789')).toThrow(RangeError);
    expect(s.pendingBytes).toBe(0);
  });
});

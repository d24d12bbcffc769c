import { describe, expect, it } from 'vitest';
import { LineFramer, TOO_LARGE } from '../../src/telemetry/line-framer.js';

function drain(f: LineFramer): Array<string | 'TOO_LARGE'> {
  const out: Array<string | 'TOO_LARGE'> = [];
  for (let x = f.next(); x !== undefined; x = f.next()) out.push(x === TOO_LARGE ? 'TOO_LARGE' : x.toString());
  return out;
}

describe('LineFramer', () => {
  it('splits chunks into lines, joining a line cut across chunks', () => {
    const f = new LineFramer(100);
    f.push(Buffer.from('a\nbc'));
    expect(drain(f)).toEqual(['a']);
    f.push(Buffer.from('d\n\ne'));
    expect(drain(f)).toEqual(['bcd', '']);
    f.push(Buffer.from('f\n'));
    expect(drain(f)).toEqual(['ef']);
    expect(f.bufferedBytes).toBe(0);
  });

  it('accepts a line of exactly the limit and reports one byte more as too large, once', () => {
    const f = new LineFramer(8);
    f.push(Buffer.from('12345678\n123456789\nok\n'));
    expect(drain(f)).toEqual(['12345678', 'TOO_LARGE', 'ok']);
  });

  it('reports an oversized line as soon as it crosses the limit and drops the rest of it as it arrives', () => {
    const f = new LineFramer(8);
    f.push(Buffer.from('123456'));
    expect(drain(f)).toEqual([]);
    f.push(Buffer.from('789'));
    expect(drain(f)).toEqual(['TOO_LARGE']);
    expect(f.bufferedBytes).toBe(0);
    f.push(Buffer.from('x'.repeat(1000)));
    expect(drain(f)).toEqual([]);
    expect(f.bufferedBytes).toBe(0);
    f.push(Buffer.from('yyy\nnext\n'));
    expect(drain(f)).toEqual(['next']);
  });

  it('holds a line trickled one byte per chunk in one buffer and returns it whole', () => {
    const f = new LineFramer(1 << 20);
    const text = '{"id":1,"method":"health"}';
    for (const ch of text) {
      f.push(Buffer.from(ch));
      expect(f.next()).toBeUndefined();
    }
    expect(f.bufferedBytes).toBe(text.length);
    f.push(Buffer.from('\n'));
    expect(drain(f)).toEqual([text]);
  });

  it('gives the unterminated last line at end of stream, but not the tail of an oversized one', () => {
    const f = new LineFramer(4);
    f.push(Buffer.from('ab\ncd'));
    expect(drain(f)).toEqual(['ab']);
    expect(f.rest()?.toString()).toBe('cd');
    expect(f.rest()).toBeUndefined();
    f.push(Buffer.from('123456'));
    expect(drain(f)).toEqual(['TOO_LARGE']);
    expect(f.rest()).toBeUndefined();
  });
});

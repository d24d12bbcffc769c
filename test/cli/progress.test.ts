import { describe, expect, it } from 'vitest';
import { createProgress, progressAllowed, renderProgress } from '../../src/cli/progress.js';
import { captureIo } from './io.js';

describe('progress bar', () => {
  it('renders the fraction done as a bar, a percentage and amounts', () => {
    expect(renderProgress('import', 12e6, 48e6, 'bytes')).toBe('import [######..................]  25% 12.0 MB/48.0 MB');
    expect(renderProgress('fit', 3, 3)).toBe('fit [########################] 100% 3/3');
  });

  it.each([
    [{ isTTY: true }, {}, true],
    [{ isTTY: true }, { CI: 'true' }, false],
    [{ isTTY: true }, { CI: '1' }, false],
    [{}, {}, false],
  ])('is allowed for stream %j and env %j: %s', (stream, env, allowed) => {
    expect(progressAllowed(stream, env)).toBe(allowed);
  });

  it('redraws at most once per interval, always draws completion, and erases itself', () => {
    const io = captureIo('/', { tty: true });
    let t = 0;
    const p = createProgress(io.stderr, {}, { label: 'x', total: 10, intervalMs: 100, now: () => t });
    p.update(1);
    t = 50;
    p.update(2);
    t = 60;
    p.update(10);
    p.finish();
    const frames = io.err().split('\r\x1b[2K').filter((f) => f.length > 0);
    expect(frames).toEqual([renderProgress('x', 1, 10), renderProgress('x', 10, 10)]);
    expect(io.err().endsWith('\r\x1b[2K')).toBe(true);
  });
});

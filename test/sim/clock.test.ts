import { describe, expect, it } from 'vitest';
import { SimError, VirtualClock } from '../../src/sim/index.js';

describe('VirtualClock', () => {
  it('wakes each sleeper at exactly its due time, earliest first', async () => {
    const clock = new VirtualClock(100);
    const woke: Array<[string, number]> = [];
    await Promise.all(
      [
        ['c', 30],
        ['a', 10],
        ['b', 20],
      ].map(async ([name, ms]) => {
        await clock.sleep(ms as number);
        woke.push([name as string, clock.nowMs]);
      }),
    );
    expect(woke).toEqual([
      ['a', 110],
      ['b', 120],
      ['c', 130],
    ]);
  });

  it('wakes sleepers due at the same time in the order they slept', async () => {
    const clock = new VirtualClock();
    const woke: number[] = [];
    await Promise.all([0, 1, 2, 3].map(async (i) => {
      await clock.sleep(5);
      woke.push(i);
    }));
    expect(woke).toEqual([0, 1, 2, 3]);
  });

  it('composes parallel work as the maximum of the durations', async () => {
    const clock = new VirtualClock();
    await Promise.all([clock.sleep(40), clock.sleep(250), clock.sleep(90)]);
    expect(clock.nowMs).toBe(250);
  });

  it('composes serial work as the sum of the durations', async () => {
    const clock = new VirtualClock();
    for (const ms of [40, 250, 90]) await clock.sleep(ms);
    expect(clock.nowMs).toBe(380);
  });

  it('measures each branch of parallel work with its own duration', async () => {
    const clock = new VirtualClock();
    const measured = await Promise.all(
      [[10, 20], [5, 100]].map(async (steps) => {
        const start = clock.nowMs;
        for (const ms of steps) await clock.sleep(ms);
        return clock.nowMs - start;
      }),
    );
    expect(measured).toEqual([30, 105]);
    expect(clock.nowMs).toBe(105);
  });

  it('advances synchronously when nothing sleeps', () => {
    const clock = new VirtualClock();
    clock.advance(12.5);
    clock.advanceTo(20);
    expect(clock.nowMs).toBe(20);
  });

  it('refuses to advance past a pending sleep', async () => {
    const clock = new VirtualClock();
    const sleeping = clock.sleep(10);
    expect(() => clock.advance(11)).toThrow(expect.objectContaining({ code: 'E_CLOCK_SKIP' }));
    expect(clock.pendingSleeps).toBe(1);
    expect(clock.nextWakeMs).toBe(10);
    await sleeping;
    expect(clock.nowMs).toBe(10);
  });

  it('rejects negative, NaN and backwards times with E_CLOCK_BAD_DURATION', () => {
    const clock = new VirtualClock(5);
    expect(() => clock.sleep(-1)).toThrow(SimError);
    expect(() => clock.advance(Number.NaN)).toThrow(expect.objectContaining({ code: 'E_CLOCK_BAD_DURATION' }));
    expect(() => clock.advanceTo(4)).toThrow(expect.objectContaining({ code: 'E_CLOCK_BAD_DURATION' }));
  });

  it('runs ten thousand sleeps through its heap in order', async () => {
    const clock = new VirtualClock();
    const order: number[] = [];
    const ms = Array.from({ length: 10_000 }, (_, i) => (i * 7919) % 10_000);
    await Promise.all(ms.map(async (d) => {
      await clock.sleep(d);
      order.push(clock.nowMs);
    }));
    expect(order).toEqual([...ms].sort((a, b) => a - b));
  });
});

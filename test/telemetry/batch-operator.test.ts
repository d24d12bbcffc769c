import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { batchByCountOrTime } from '../../src/telemetry/batch-operator.js';

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('batchByCountOrTime', () => {
  it('emits a batch as soon as it holds maxCount values', () => {
    scheduler().run(({ cold, expectObservable, time }) => {
      const source = cold('abcde|');
      const never = cold('-');
      expectObservable(source.pipe(batchByCountOrTime(2, time('-----|'), never))).toBe('-x-y-(z|)', {
        x: ['a', 'b'],
        y: ['c', 'd'],
        z: ['e'],
      });
    });
  });

  it('emits a partial batch maxDelayMs after its first value', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b------c---|');
      expectObservable(source.pipe(batchByCountOrTime(10, 3, cold('-')))).toBe('---x--------y|', {
        x: ['a', 'b'],
        y: ['c'],
      });
    });
  });

  it('emits the partial batch when the flush notifier fires, and never an empty one', () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      const source = hot('a-b------|');
      const flush = hot('---f-f----');
      expectObservable(source.pipe(batchByCountOrTime(10, 100, flush))).toBe('---x-----|', { x: ['a', 'b'] });
    });
  });

  it('emits synchronously inside the next() that fills the batch', () => {
    const input = new Subject<number>();
    const seen: number[][] = [];
    input.pipe(batchByCountOrTime(3, 1000, new Subject<void>())).subscribe((b) => seen.push(b));
    input.next(1);
    input.next(2);
    expect(seen).toEqual([]);
    input.next(3);
    expect(seen).toEqual([[1, 2, 3]]);
    input.complete();
  });

  it('refuses a batch size below one', () => {
    expect(() => batchByCountOrTime(0, 10, new Subject<void>())).toThrow(RangeError);
  });
});

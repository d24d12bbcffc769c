/**
 * `batchByCountOrTime`: the RxJS operator that turns a record stream into write batches.
 *
 * Why not `bufferTime(ms, null, n)`: RxJS 7's `bufferTime` copies its list of open buffers for
 * every value and ticks on an interval even when idle (emitting empty arrays). This one costs an
 * array push per value, starts its timer only when a batch opens, and can be forced out by a
 * notifier — which is how `flush()` works.
 */
import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

/**
 * Emits arrays of source values: when `maxCount` values are collected, when `maxDelayMs` has
 * passed since the first value of the batch, or when `flush$` emits — whichever comes first.
 * Emission is synchronous within the `next` (or the notifier) that triggers it. On completion,
 * a partial batch is emitted before completing. Never emits an empty array.
 */
export function batchByCountOrTime<T>(
  maxCount: number,
  maxDelayMs: number,
  flush$: Observable<unknown>,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<T, T[]> {
  if (!Number.isInteger(maxCount) || maxCount < 1) throw new RangeError(`maxCount must be a positive integer, got ${maxCount}`);
  if (!(maxDelayMs >= 0)) throw new RangeError(`maxDelayMs must be ≥ 0, got ${maxDelayMs}`);
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let timer: Subscription | null = null;
      const emit = (): void => {
        if (timer !== null) {
          timer.unsubscribe();
          timer = null;
        }
        if (batch.length === 0) return;
        const out = batch;
        batch = [];
        subscriber.next(out);
      };
      const flushSub = flush$.subscribe(emit);
      const sourceSub = source.subscribe({
        next(value) {
          batch.push(value);
          if (batch.length >= maxCount) emit();
          else if (timer === null) timer = scheduler.schedule(emit, maxDelayMs);
        },
        error(err: unknown) {
          subscriber.error(err);
        },
        complete() {
          emit();
          subscriber.complete();
        },
      });
      return () => {
        sourceSub.unsubscribe();
        flushSub.unsubscribe();
        timer?.unsubscribe();
      };
    });
}

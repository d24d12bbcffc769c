/** A recording pipeline on a store for tests, counting what was pushed and collecting its errors. */
import { RecordingPipeline } from '../../src/telemetry/pipeline.js';
import type { RecordSink } from '../../src/records/records.js';
import type { Store } from '../../src/store/store.js';

export interface CountingRecorder {
  readonly pipeline: RecordingPipeline;
  /** Pushes into the pipeline and counts. */
  readonly sink: RecordSink;
  readonly pushed: () => number;
  /** Messages from the pipeline's error stream. */
  readonly errors: string[];
}

export function countingRecorder(store: Store): CountingRecorder {
  const pipeline = new RecordingPipeline(store, { spillPath: null });
  const errors: string[] = [];
  pipeline.errors$.subscribe((e) => errors.push(e.message));
  let pushed = 0;
  const sink: RecordSink = {
    push: (r) => {
      pushed++;
      pipeline.push(r);
    },
  };
  return { pipeline, sink, pushed: () => pushed, errors };
}

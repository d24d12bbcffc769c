/**
 * `record`: telemetry records from a VMM into the recording pipeline. `params` is one record
 * (`{"kind": "arc", ...}`, design.md "Telemetry records") or `{"records": [...], "flush"?: true}`.
 * Each record is validated now; valid ones are queued for the store, invalid ones are stored in
 * the rejects table and listed in the reply with their index and reason. The reply comes after
 * validation, or with `flush: true` after the store has committed them.
 */
import type { RecordingPipeline } from '../telemetry/pipeline.js';
import type { RecordSource } from '../records/records.js';
import { validateRecord } from '../telemetry/validate.js';
import { ServiceError } from './errors.js';
import { array, optionalBoolean, type Obj } from './params.js';

/** A 1 MiB line holds fewer records than this; the cap only bounds the reject list. */
const MAX_RECORDS = 100_000;

/** One record the pipeline refused. */
export interface RecordReject {
  /** Index in `params.records` (0 for a single record). */
  readonly index: number;
  readonly reason: string;
}

export interface RecordReply {
  readonly accepted: number;
  readonly rejected: readonly RecordReject[];
  /** True when the reply waited for the store (`flush: true`). */
  readonly committed: boolean;
}

/** The records of `params` and whether to wait for the commit; throws `E_BAD_PARAMS`. */
export function recordList(params: Obj): { readonly records: readonly unknown[]; readonly flush: boolean } {
  if (params['kind'] !== undefined) return { records: [params], flush: false };
  if (params['records'] === undefined) {
    throw new ServiceError('E_BAD_PARAMS', 'params: expected a telemetry record (with "kind") or {"records": [...]}', 'params');
  }
  return { records: array(params['records'], 'params.records', MAX_RECORDS), flush: optionalBoolean(params, 'flush', 'params') ?? false };
}

/** Pushes `records` into `pipeline`; returns the counts for the reply (not yet committed). */
export function pushRecords(pipeline: RecordingPipeline, records: readonly unknown[], source: RecordSource): RecordReply {
  let accepted = 0;
  const rejected: RecordReject[] = [];
  for (let i = 0; i < records.length; i++) {
    const checked = validateRecord(records[i]);
    if (typeof checked === 'string') {
      rejected.push({ index: i, reason: checked });
      // The rejects table keeps one row per (source, reason): the index keeps two bad records
      // of one request with the same reason from collapsing into one row.
      pipeline.reject(records.length > 1 ? `records[${i}]: ${checked}` : checked, JSON.stringify(records[i]) ?? 'undefined', source);
    } else {
      pipeline.push(checked, source);
      accepted++;
    }
  }
  return { accepted, rejected, committed: false };
}

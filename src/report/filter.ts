/**
 * Checking an analysis filter before it reaches the store: a bad arc key is the user's
 * `E_BAD_FILTER`, not the store's `RangeError`.
 */
import { parseArcKey } from '../store/queries.js';
import { ReportError } from './errors.js';

/** Splits an arc key, as a {@link ReportError} `E_BAD_FILTER` when it is not one. */
export function arcStates(key: string): readonly [number, number] {
  try {
    return parseArcKey(key);
  } catch (e) {
    throw new ReportError('E_BAD_FILTER', (e as Error).message, { cause: e });
  }
}

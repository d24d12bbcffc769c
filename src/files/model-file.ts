/**
 * Model files (`models/*.json`) on disk: the I/O edge of `estimators/model-json.ts`. Loading
 * validates the version and every field (`E_MODEL_VERSION`, `E_BAD_MODEL` naming the file);
 * saving writes a temporary file and renames it, so a reader never sees half a model.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from './output-target.js';
import { parseModelJson, stringifyModel } from '../estimators/model-json.js';
import type { FittedModel } from '../estimators/types.js';

/** `models/priors.json` of the installed package (next to `dist/` and `src/`). */
export const DEFAULT_PRIORS_FILE = fileURLToPath(new URL('../../models/priors.json', import.meta.url));

/** Reads and validates a model file. */
export function loadModel(path: string): FittedModel {
  return parseModelJson(readFileSync(path, 'utf8'), path);
}

/** Writes a model file atomically (creating its folder); refuses a path that is not a regular file. */
export function saveModel(path: string, model: FittedModel): void {
  writeFileAtomic(path, stringifyModel(model), '--out');
}

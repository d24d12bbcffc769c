/**
 * `FittedModel` ⇄ versioned JSON (`models/*.json`). Pure: text or `unknown` in, a validated
 * model out; the file I/O lives at the edge (`files/model-file.ts`). A model of another
 * {@link MODEL_VERSION} is refused with `E_MODEL_VERSION`, a malformed one with `E_BAD_MODEL`
 * naming the field — a governor must never run on a half-read model.
 */
import { EstimatorError } from './errors.js';
import {
  MODEL_VERSION,
  RESIDUAL_QUANTILE_LEVELS,
  type ArcLatencyModel,
  type CalibrationModel,
  type FitSource,
  type FittedModel,
  type FixedCostModel,
  type LinkModel,
  type PrecopyTimeModel,
  type RamCarryModel,
  type StackCalibration,
  type TermCalibration,
} from './types.js';

type Obj = Record<string, unknown>;

function fail(where: string, what: string): never {
  throw new EstimatorError('E_BAD_MODEL', `${where}: ${what}`);
}

function obj(v: unknown, where: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'expected an object');
  return v as Obj;
}

function num(o: Obj, key: string, where: string, min = -Infinity): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) fail(`${where}.${key}`, `expected a finite number${min > -Infinity ? ` ≥ ${min}` : ''}, got ${JSON.stringify(v)}`);
  return v;
}

function str(o: Obj, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string') fail(`${where}.${key}`, 'expected a string');
  return v;
}

function optStr(o: Obj, key: string, where: string): { provenance?: string } {
  if (o[key] === undefined) return {};
  return { provenance: str(o, key, where) };
}

function source(o: Obj, where: string): FitSource {
  const v = o['source'];
  if (v !== 'prior' && v !== 'fitted' && v !== 'shrunk') fail(`${where}.source`, `expected prior|fitted|shrunk, got ${JSON.stringify(v)}`);
  return v;
}

function quantileArray(o: Obj, key: string, where: string): number[] {
  const v = o[key];
  if (!Array.isArray(v) || v.length !== RESIDUAL_QUANTILE_LEVELS.length) {
    fail(`${where}.${key}`, `expected ${RESIDUAL_QUANTILE_LEVELS.length} numbers (levels ${RESIDUAL_QUANTILE_LEVELS.join(', ')})`);
  }
  const out = v.map((x: unknown, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) fail(`${where}.${key}[${i}]`, 'expected a finite number');
    return x;
  });
  for (let i = 1; i < out.length; i++) if ((out[i] as number) < (out[i - 1] as number)) fail(`${where}.${key}`, 'quantiles must ascend');
  return out;
}

function arcModel(v: unknown, where: string): ArcLatencyModel {
  const o = obj(v, where);
  return {
    n: num(o, 'n', where, 0),
    fixedMs: num(o, 'fixedMs', where),
    slopeMsPerByte: num(o, 'slopeMsPerByte', where, 0),
    residualQuantilesMs: quantileArray(o, 'residualQuantilesMs', where),
    source: source(o, where),
    ...optStr(o, 'provenance', where),
  };
}

function linkModel(v: unknown, where: string): LinkModel {
  const o = obj(v, where);
  const medianBytesPerS = num(o, 'medianBytesPerS', where, Number.MIN_VALUE);
  const lowBytesPerS = num(o, 'lowBytesPerS', where, Number.MIN_VALUE);
  if (lowBytesPerS > medianBytesPerS) fail(`${where}.lowBytesPerS`, 'must not exceed medianBytesPerS');
  return { n: num(o, 'n', where, 0), medianBytesPerS, lowBytesPerS, source: source(o, where), ...optStr(o, 'provenance', where) };
}

function fixedModel(v: unknown, where: string): FixedCostModel {
  const o = obj(v, where);
  return {
    n: num(o, 'n', where, 0),
    medianMs: num(o, 'medianMs', where, 0),
    residualQuantilesMs: quantileArray(o, 'residualQuantilesMs', where),
    source: source(o, where),
    ...optStr(o, 'provenance', where),
  };
}

function ramModel(v: unknown, where: string): RamCarryModel {
  const o = obj(v, where);
  return { n: num(o, 'n', where, 0), carryMs: num(o, 'carryMs', where, 0), source: source(o, where), ...optStr(o, 'provenance', where) };
}

/** `o[key]`: an array of finite numbers (≥ `min`), as given. */
function numbersOf(o: Obj, key: string, where: string, min = -Infinity): number[] {
  const values = o[key];
  if (!Array.isArray(values)) fail(`${where}.${key}`, 'expected an array');
  return values.map((x: unknown, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < min) fail(`${where}.${key}[${i}]`, min === -Infinity ? 'expected a finite number' : `expected a finite number ≥ ${min}`);
    return x;
  });
}

/** `o.logRatioScores`: an array of finite numbers, as given. */
function scoresOf(o: Obj, where: string): number[] {
  return numbersOf(o, 'logRatioScores', where);
}

/** `calibration.terms` (`term-risk.ts`): sorted on reading; at least one rest score. */
function termCalibration(v: unknown, where: string): TermCalibration {
  const o = obj(v, where);
  const restScores = numbersOf(o, 'restScores', where).sort((a, b) => a - b);
  if (restScores.length === 0) fail(`${where}.restScores`, 'expected at least one score');
  const transferFactors = numbersOf(o, 'transferFactors', where, 0).sort((a, b) => a - b);
  // Terms fitted before the rest was scaled by the device arcs' spread carry restDeviceWeight:
  // their rest scores are in other units, so reading them as these would misstate every risk.
  if (o['restSpreadWeight'] === undefined && o['restDeviceWeight'] !== undefined) {
    fail(`${where}.restSpreadWeight`, 'missing: these terms scale the rest by its median (restDeviceWeight, an older fit); refit the model');
  }
  return { n: restScores.length, transferFactors, restScores, restSpreadWeight: num(o, 'restSpreadWeight', where, 0) };
}

function precopyTime(v: unknown, where: string): PrecopyTimeModel {
  const o = obj(v, where);
  const logRatioScores = scoresOf(o, where).sort((a, b) => a - b);
  return { n: logRatioScores.length, logRatioScores, ...optStr(o, 'provenance', where) };
}

function calibration(v: unknown, where: string): CalibrationModel {
  const o = obj(v, where);
  const logRatioScores = scoresOf(o, where);
  const sorted = [...logRatioScores].sort((a, b) => a - b);
  const dm = o['deviceModels'];
  if (dm !== undefined && (!Array.isArray(dm) || dm.some((x) => typeof x !== 'string'))) fail(`${where}.deviceModels`, 'expected an array of strings');
  const links = o['links'];
  if (links !== undefined && (!Array.isArray(links) || links.some((x) => typeof x !== 'string'))) fail(`${where}.links`, 'expected an array of strings');
  const method = o['method'];
  if (method !== undefined && method !== 'cross-fit' && method !== 'split' && method !== 'online') fail(`${where}.method`, 'expected cross-fit|split|online');
  const score = o['score'];
  if (score !== undefined && score !== 'log-ratio' && score !== 'scaled') fail(`${where}.score`, 'expected log-ratio|scaled');
  if (score === 'scaled' && o['deviceScaleWeight'] === undefined) fail(`${where}.deviceScaleWeight`, 'expected a number ≥ 0 with score: scaled');
  const byStack = o['byStack'] === undefined ? undefined : record(o['byStack'], `${where}.byStack`, stackCalibration);
  const terms = o['terms'] === undefined ? undefined : termCalibration(o['terms'], `${where}.terms`);
  return {
    logRatioScores: sorted,
    n: sorted.length,
    ...(dm === undefined ? {} : { deviceModels: dm as string[] }),
    ...(links === undefined ? {} : { links: links as string[] }),
    ...(method === undefined ? {} : { method }),
    ...(score === 'scaled' ? { score, deviceScaleWeight: num(o, 'deviceScaleWeight', where, 0) } : {}),
    ...(byStack === undefined ? {} : { byStack }),
    ...(terms === undefined ? {} : { terms }),
  };
}

function stackCalibration(v: unknown, where: string): StackCalibration {
  const logRatioScores = scoresOf(obj(v, where), where).sort((a, b) => a - b);
  return { n: logRatioScores.length, logRatioScores };
}

function record<T>(v: unknown, where: string, each: (x: unknown, w: string) => T): Record<string, T> {
  const o = obj(v, where);
  const out: Record<string, T> = {};
  for (const [k, x] of Object.entries(o)) out[k] = each(x, `${where}.${k}`);
  return out;
}

/** Validates a parsed JSON value as a {@link FittedModel}; `where` names it in errors (a path). */
export function parseFittedModel(value: unknown, where = 'model'): FittedModel {
  const o = obj(value, where);
  if (o['version'] !== MODEL_VERSION) {
    throw new EstimatorError(
      'E_MODEL_VERSION',
      `${where}: model version ${JSON.stringify(o['version'])}, this vfio-sla reads version ${MODEL_VERSION}; refit it with \`vfio-sla fit\``,
    );
  }
  const model: FittedModel = {
    version: MODEL_VERSION,
    name: str(o, 'name', where),
    fittedAt: str(o, 'fittedAt', where),
    provenance: str(o, 'provenance', where),
    arcs: record(o['arcs'], `${where}.arcs`, (x, w) => record(x, w, arcModel)),
    links: record(o['links'], `${where}.links`, linkModel),
    fixed: fixedModel(o['fixed'], `${where}.fixed`),
    ...(o['ram'] === undefined ? {} : { ram: ramModel(o['ram'], `${where}.ram`) }),
    ...(o['calibration'] === undefined ? {} : { calibration: calibration(o['calibration'], `${where}.calibration`) }),
    ...(o['precopyTime'] === undefined ? {} : { precopyTime: precopyTime(o['precopyTime'], `${where}.precopyTime`) }),
  };
  return model;
}

/** Parses and validates model JSON text. */
export function parseModelJson(text: string, where = 'model'): FittedModel {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new EstimatorError('E_BAD_MODEL', `${where}: not JSON: ${(e as Error).message}`);
  }
  return parseFittedModel(v, where);
}

/** The JSON text of a model (2-space indent, trailing newline: diff-friendly in `models/`). */
export function stringifyModel(model: FittedModel): string {
  return `${JSON.stringify(model, null, 2)}\n`;
}

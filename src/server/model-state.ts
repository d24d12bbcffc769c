/**
 * The model the service decides with: the fitted model, its compiled form for `decide()`, and
 * where it came from. Immutable; a refit builds a new one and the service swaps its one
 * reference, so a `decide` sees either the old model or the new one, never a mix.
 */
import { compileModel, type CompiledModel } from '../estimators/compile.js';
import type { FittedModel } from '../estimators/types.js';

/** `file`: `--model`; `fit`: fitted from the store (at start-up or by a `fit` request); `priors`: the shipped priors only. */
export type ModelSource = 'file' | 'fit' | 'priors';

export interface LoadedModel {
  readonly fitted: FittedModel;
  readonly compiled: CompiledModel;
  readonly source: ModelSource;
  /** The file it was read from (`file`, `priors`), or null. */
  readonly path: string | null;
  /** ISO-8601 time it was put in service. */
  readonly loadedAt: string;
}

/** Compiles `fitted` (throws `E_BAD_MODEL` for a model `decide()` cannot use). */
export function loadedModel(fitted: FittedModel, source: ModelSource, path: string | null, loadedAt: string): LoadedModel {
  return { fitted, compiled: compileModel(fitted), source, path, loadedAt };
}

/** The `model` method's answer: what the model is and how much data stands behind each part. */
export function modelSummary(m: LoadedModel): Record<string, unknown> {
  const f = m.fitted;
  const arcs: Record<string, Record<string, number>> = {};
  for (const [deviceModel, byArc] of Object.entries(f.arcs)) {
    const counts: Record<string, number> = {};
    for (const [arc, a] of Object.entries(byArc)) counts[arc] = a.n;
    arcs[deviceModel] = counts;
  }
  const links: Record<string, { n: number; medianBytesPerS: number; source: string }> = {};
  for (const [name, l] of Object.entries(f.links)) links[name] = { n: l.n, medianBytesPerS: l.medianBytesPerS, source: l.source };
  return {
    name: f.name,
    version: f.version,
    fittedAt: f.fittedAt,
    provenance: f.provenance,
    source: m.source,
    path: m.path,
    loadedAt: m.loadedAt,
    arcs,
    links,
    fixed: { n: f.fixed.n, medianMs: f.fixed.medianMs, source: f.fixed.source },
    ram: f.ram === undefined ? null : { n: f.ram.n, carryMs: f.ram.carryMs },
    calibration: f.calibration === undefined ? null : { n: f.calibration.n, method: f.calibration.method ?? null },
  };
}

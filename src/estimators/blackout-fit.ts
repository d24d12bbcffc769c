/**
 * The VM-level part of the blackout, learned across migrations: blackout transfer throughput per
 * link, the fixed cost (vCPU stop, final sync, restart, everything not a recorded arc) and the
 * RAM the final sync adds. Evidence for the shape: published-numbers.md §9.1–9.2 and
 * switchover-today.md §1.4 — QEMU's own rule (bytes / pre-copy bandwidth) misses fixed costs and
 * uses the throttled pre-copy rate (128 MiB/s) while the blackout runs unthrottled (GB/s).
 *
 * So the rate is learned only from blackouts: per migration, `y = downtime − recorded blackout
 * arcs` against `x = bytes sent in the blackout`, a robust line `y = fixed + x · slope`
 * (Theil–Sen); the slope is the link (ms/byte), the intercept the fixed cost, the residuals its
 * spread. `bytes / downtime` alone would be only a lower bound of the rate (fixed costs included).
 *
 * Links: the line through every blackout is the pooled link `default` (what a query that names
 * no link, or a link never seen, is predicted with). Blackouts whose transfers name a link also
 * give that link its own slope (`link-fit.ts`, shrunk toward the pooled one when few); the one
 * fixed cost is then the median of `y − slope_of_its_link · x` over all blackouts, so link
 * differences no longer land in the fixed cost's residuals. Without any named link this is the
 * pooled line alone, exactly.
 */
import type { TransferRecord } from '../records/records.js';
import { baseLinkName, MIN_CHANNEL_GROUP_BLACKOUTS } from './channels.js';
import { fitLinkSlopes, SLOPE_BELOW_NOISE, type LinkSamples } from './link-fit.js';
import type { MigrationFacts } from './migrations.js';
import { median, quantiles, slopeIdentifiedAboveNoise, theilSen } from './robust.js';
import { credibility, DEFAULT_PRIOR_PSEUDO_COUNT, mix, mixQuantiles } from './shrink.js';
import { DEFAULT_LINK, RESIDUAL_QUANTILE_LEVELS, type FixedCostModel, type LinkModel, type RamCarryModel } from './types.js';

/**
 * Fastest blackout rate a model will state, bytes/s (1 TB/s, beyond any memory bus): a fitted
 * slope of 0 means "bytes do not matter at the sizes seen", and JSON has no Infinity.
 */
export const MAX_BLACKOUT_BYTES_PER_S = 1e12;

const MIN_SLOPE_MS_PER_BYTE = 1000 / MAX_BLACKOUT_BYTES_PER_S;

/** Provenance of the placeholder fixed cost when there are neither data nor a prior. */
export const NO_FIXED_COST = 'none: no blackouts and no prior';

/** The VM-level models of a {@link FittedModel}. */
export interface BlackoutFit {
  /** The pooled link (`default`): every blackout, whatever its link. */
  readonly link: LinkModel | undefined;
  /** Each link named by some blackout's transfers (never `default`). */
  readonly links: Readonly<Record<string, LinkModel>>;
  readonly fixed: FixedCostModel;
  readonly ram: RamCarryModel | undefined;
}

export interface BlackoutPriors {
  readonly link?: LinkModel | undefined;
  readonly fixed?: FixedCostModel | undefined;
  readonly ram?: RamCarryModel | undefined;
}

export interface BlackoutFitOptions {
  readonly priorPseudoCount?: number;
  readonly seed?: number;
}

const slopeOf = (bytesPerS: number): number => Math.max(MIN_SLOPE_MS_PER_BYTE, 1000 / bytesPerS);

/** Blackout (bytes, ms) pairs and the link of each (`undefined`: not named). */
interface BlackoutPairs {
  readonly x: number[];
  readonly y: number[];
  readonly link: (string | undefined)[];
  /** Whole blackouts (outcomes known), not transfers alone. */
  readonly whole: boolean;
}

/** A named link, or undefined for none (and for `default` itself: it is the pooled link). */
const named = (link: string | undefined): string | undefined => (link === DEFAULT_LINK ? undefined : link);

/** (bytes, ms) pairs: whole blackouts when outcomes exist, else the stop-copy transfers alone. */
function blackoutPairs(facts: readonly MigrationFacts[], transfers: readonly TransferRecord[]): BlackoutPairs {
  const x: number[] = [];
  const y: number[] = [];
  const link: (string | undefined)[] = [];
  for (const f of facts) {
    if (f.outcome === undefined || f.blackoutBytes === undefined) continue;
    x.push(f.blackoutBytes);
    y.push(Math.max(0, f.outcome.actualBlackoutMs - f.blackoutArcsMs));
    link.push(named(f.link));
  }
  if (x.length > 0) return { x, y, link, whole: true };
  for (const t of transfers) {
    if (t.phase !== 'stopcopy') continue;
    x.push(t.bytes);
    y.push(t.durationMs);
    link.push(named(t.link));
  }
  return { x, y, link, whole: false };
}

/**
 * The link each pair is fitted under: its own name, except a (link, channel count) group
 * (`100G@8ch`, `channels.ts`) with fewer than {@link MIN_CHANNEL_GROUP_BLACKOUTS} pairs, which is
 * fitted with its link (`100G`); the pairs' `link` is rewritten in place so the fixed cost reads
 * each pair against the slope it was fitted under. Returns the folded groups and their sizes.
 */
function foldSmallChannelGroups(p: BlackoutPairs): Map<string, number> {
  const counts = new Map<string, number>();
  for (const l of p.link) if (l !== undefined) counts.set(l, (counts.get(l) ?? 0) + 1);
  const folded = new Map<string, number>();
  for (const [name, n] of counts) if (n < MIN_CHANNEL_GROUP_BLACKOUTS && baseLinkName(name) !== undefined) folded.set(name, n);
  if (folded.size > 0) p.link.forEach((l, i) => {
    if (l !== undefined && folded.has(l)) p.link[i] = baseLinkName(l);
  });
  return folded;
}

/** The pairs of each named link, and those of no link (undefined when every pair names one). */
function byLink(p: BlackoutPairs): { named: Map<string, LinkSamples>; unnamed: LinkSamples | undefined } {
  const groups = new Map<string, { x: number[]; y: number[] }>();
  const rest = { x: [] as number[], y: [] as number[] };
  p.link.forEach((l, i) => {
    let g = rest;
    if (l !== undefined) {
      g = groups.get(l) ?? { x: [], y: [] };
      groups.set(l, g);
    }
    g.x.push(p.x[i] as number);
    g.y.push(p.y[i] as number);
  });
  return { named: groups, unnamed: rest.x.length > 0 ? rest : undefined };
}

/** Fits link, fixed cost and RAM carry; each falls back to (or is shrunk toward) its prior. */
export function fitBlackout(
  facts: readonly MigrationFacts[],
  stopcopyTransfers: readonly TransferRecord[],
  priors: BlackoutPriors,
  opts: BlackoutFitOptions = {},
): BlackoutFit {
  const k = opts.priorPseudoCount ?? DEFAULT_PRIOR_PSEUDO_COUNT;
  const pairs = blackoutPairs(facts, stopcopyTransfers);
  const { x, y, whole } = pairs;
  const n = x.length;
  const priorLink = priors.link;
  const priorFixed = priors.fixed;
  const ram = fitRamCarry(facts, priors.ram, k);
  if (n === 0) {
    const fixed = priorFixed ?? { n: 0, medianMs: 0, residualQuantilesMs: RESIDUAL_QUANTILE_LEVELS.map(() => 0), source: 'prior', provenance: NO_FIXED_COST };
    return { link: priorLink, links: {}, fixed, ram };
  }
  const w = credibility(n, k);
  const s0 = priorLink === undefined ? undefined : slopeOf(priorLink.medianBytesPerS);
  const s0High = priorLink === undefined ? undefined : slopeOf(priorLink.lowBytesPerS);
  const line = theilSen(x, y, s0 ?? 0, opts.seed);
  const dataSlope = Math.max(MIN_SLOPE_MS_PER_BYTE, line.slope);
  const dataSlopeHigh = Math.max(dataSlope, line.slopeHigh);
  // Sizes spread within the noise (tiny blackouts): the prior's rate, not noise ÷ spread.
  const identified = slopeIdentifiedAboveNoise(x, y, line, s0 ?? 0);
  const slope = s0 === undefined ? dataSlope : !identified ? s0 : Math.max(MIN_SLOPE_MS_PER_BYTE, mix(w, dataSlope, s0));
  const slopeHigh = Math.max(slope, s0High === undefined ? dataSlopeHigh : !identified ? s0High : mix(w, dataSlopeHigh, s0High));
  const provenanceLink =
    priorLink === undefined
      ? `${n} blackouts${identified ? '' : `; ${SLOPE_BELOW_NOISE}, and no prior: the data's slope`}`
      : identified
        ? `${n} blackouts shrunk toward the prior (worth ${k}): ${priorLink.provenance ?? 'prior'}`
        : `${n} blackouts; ${SLOPE_BELOW_NOISE}: the prior's rate (${priorLink.provenance ?? 'prior'})`;
  const link: LinkModel = {
    n,
    medianBytesPerS: 1000 / slope,
    lowBytesPerS: 1000 / slopeHigh,
    source: priorLink === undefined ? 'fitted' : 'shrunk',
    provenance: provenanceLink,
  };
  const folded = foldSmallChannelGroups(pairs);
  const groups = byLink(pairs);
  const linkSlopes = fitLinkSlopes(groups.named, groups.unnamed, { slope, slopeHigh }, {
    minSlopeMsPerByte: MIN_SLOPE_MS_PER_BYTE,
    fallbackPseudoCount: k,
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
  });
  const what = whole ? 'blackouts' : 'stop-copy transfers';
  const links: Record<string, LinkModel> = {};
  for (const [name, l] of linkSlopes) {
    const shrink = !l.identified
      ? `${SLOPE_BELOW_NOISE}: the pooled rate`
      : `shrunk toward the pooled link with credibility ${l.weight.toFixed(3)} (k = ${l.pseudoCount.toPrecision(3)}${l.pseudoCountEstimated ? ', from the between-link spread' : ', the prior pseudo-count'})`;
    const foldedHere = [...folded].filter(([g]) => baseLinkName(g) === name).map(([g, n]) => `${g} (${n})`);
    const foldNote = foldedHere.length === 0 ? '' : `; includes channel groups too small for their own rate (< ${MIN_CHANNEL_GROUP_BLACKOUTS}): ${foldedHere.join(', ')}`;
    links[name] = {
      n: l.n,
      medianBytesPerS: 1000 / l.slope,
      lowBytesPerS: 1000 / l.slopeHigh,
      source: l.weight < 1 ? 'shrunk' : 'fitted',
      provenance: `${l.n} ${what} on link ${name}, ${shrink}${foldNote}`,
    };
  }
  if (!whole) {
    // Transfers alone tell the rate, not the VM's fixed cost.
    const fixed = priorFixed ?? { n: 0, medianMs: 0, residualQuantilesMs: RESIDUAL_QUANTILE_LEVELS.map(() => 0), source: 'prior', provenance: NO_FIXED_COST };
    return { link, links, fixed, ram };
  }
  // Each blackout against its own link's slope: link differences are not fixed-cost spread.
  const slopeOfPair = (i: number): number => {
    const l = pairs.link[i];
    return l === undefined ? slope : (linkSlopes.get(l)?.slope ?? slope);
  };
  // Known bias, left as it is: y subtracts the union of the blackout's arcs, including destination
  // loads that ran while the data still arrived (multifd; the simulator's main channel too), so the
  // transfer they hid is taken out twice and the fixed cost comes out low: 7.9 and 9.0 ms on fleet
  // seeds 3 and 9, where the simulator's VM-level costs have medians summing to 10 ms plus
  // 0.25 ms per GiB of RAM. Blackouts without devices lie above their predicted rest in 96 % of
  // cases there (by 12.5 ms on average, in an instrumented build). Adding 12 ms made the governor
  // worse (seeds 1–10, replay: 94.8 % of the oracle's useful share at 1.23 % misses, against
  // 100.3 % at 1.10 %): the term calibration (`term-risk.ts`) absorbs this bias together with
  // others, and fixing one alone shifts the balance. A fix needs the transfer's own interval,
  // which no record carries yet.
  const offsets = y.map((yi, i) => yi - slopeOfPair(i) * (x[i] as number));
  const dataFixed = median(offsets);
  const medianMs = Math.max(0, priorFixed === undefined ? dataFixed : mix(w, dataFixed, priorFixed.medianMs));
  // Spread about the data's own centre: the shrinkage moves the centre, not the shape.
  const dataQ = quantiles(
    offsets.map((o) => o - dataFixed),
    RESIDUAL_QUANTILE_LEVELS,
  );
  const fixed: FixedCostModel =
    priorFixed === undefined
      ? { n, medianMs, residualQuantilesMs: dataQ, source: 'fitted' }
      : {
          n,
          medianMs,
          residualQuantilesMs: mixQuantiles(w, dataQ, priorFixed.residualQuantilesMs),
          source: 'shrunk',
          provenance: `${n} blackouts shrunk toward the prior (worth ${k}): ${priorFixed.provenance ?? 'prior'}`,
        };
  return { link, links, fixed, ram };
}

/**
 * RAM carry: per migration with a known dirty rate at the decision, the blackout RAM beyond
 * `remaining` divided by that rate; the median, ≥ 0, shrunk toward the prior.
 */
export function fitRamCarry(facts: readonly MigrationFacts[], prior: RamCarryModel | undefined, k: number): RamCarryModel | undefined {
  const carries: number[] = [];
  for (const f of facts) {
    const r = f.decisionRam;
    if (r === undefined || f.ramBlackoutBytes === undefined || !(r.dirtyBytesPerS > 0)) continue;
    carries.push(((f.ramBlackoutBytes - r.remainingBytes) / r.dirtyBytesPerS) * 1000);
  }
  const n = carries.length;
  if (n === 0) return prior;
  const dataCarry = Math.max(0, median(carries));
  if (prior === undefined) return { n, carryMs: dataCarry, source: 'fitted' };
  return {
    n,
    carryMs: mix(credibility(n, k), dataCarry, prior.carryMs),
    source: 'shrunk',
    provenance: `${n} migrations shrunk toward the prior (worth ${k}): ${prior.provenance ?? 'prior'}`,
  };
}

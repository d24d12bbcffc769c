/**
 * A small, fast, seeded pseudo-random generator: xoshiro128** (Blackman & Vigna, 2018,
 * https://prng.di.unimi.it/xoshiro128starstar.c) seeded through splitmix32. Same seed, same
 * sequence, on every platform: only 32-bit integer arithmetic (`Math.imul`, `>>>`) is used.
 * Not cryptographic.
 */
import { SimError } from './errors.js';

const TWO_POW_32 = 4294967296;

/** splitmix32 step: spreads a 32-bit seed over the generator state. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a of a string, so that `Rng.from('device-a')` is a stable seed. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Seeded generator with the distributions the simulator needs. Every draw advances the state,
 * so two generators built from the same seed and asked the same questions answer the same.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Second normal of the last Box–Muller pair, NaN when none is cached. */
  private spareNormal = Number.NaN;

  /** `seed`: any 32-bit integer (other numbers are truncated to 32 bits). */
  constructor(readonly seed: number) {
    if (!Number.isFinite(seed)) throw new SimError('E_SIM_CONFIG', `RNG seed must be a finite number, got ${String(seed)}`);
    let x = seed | 0;
    this.s0 = x = splitmix32(x);
    this.s1 = x = splitmix32(x);
    this.s2 = x = splitmix32(x);
    this.s3 = splitmix32(x);
    // xoshiro must not start from the all-zero state.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /**
   * A generator resuming from raw xoshiro128** state words (from {@link Rng.stateWords}), to
   * checkpoint a simulation or check the generator against the reference implementation.
   */
  static fromState(words: readonly [number, number, number, number]): Rng {
    const rng = new Rng(0);
    [rng.s0, rng.s1, rng.s2, rng.s3] = words.map((w) => w | 0) as [number, number, number, number];
    if ((rng.s0 | rng.s1 | rng.s2 | rng.s3) === 0) throw new SimError('E_SIM_CONFIG', 'xoshiro128** state must not be all zero');
    return rng;
  }

  /** The four 32-bit state words (unsigned). A cached spare normal is not included. */
  stateWords(): [number, number, number, number] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** A generator seeded from a label (device id, scenario name). */
  static from(label: string): Rng {
    return new Rng(hashString(label));
  }

  /** Next 32-bit unsigned integer (xoshiro128**). */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / TWO_POW_32;
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Uniform integer in [0, n), n ≥ 1. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability `p`. Draws nothing when `p` is 0 or 1, so zero-probability faults cost no entropy. */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.next() < p;
  }

  /** Normal(mean, sd), Box–Muller with the pair's second value cached. */
  normal(mean = 0, sd = 1): number {
    let z = this.spareNormal;
    if (Number.isNaN(z)) {
      const u1 = 1 - this.next(); // (0, 1]: log stays finite
      const u2 = this.next();
      const r = Math.sqrt(-2 * Math.log(u1));
      z = r * Math.cos(2 * Math.PI * u2);
      this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    } else {
      this.spareNormal = Number.NaN;
    }
    return mean + sd * z;
  }

  /** exp(Normal(mu, sigma)): median `exp(mu)`. */
  lognormal(mu: number, sigma: number): number {
    return Math.exp(this.normal(mu, sigma));
  }

  /** Exponential with the given rate (mean 1/rate). */
  exponential(rate: number): number {
    return -Math.log(1 - this.next()) / rate;
  }

  /**
   * Pareto type I: `P(X > x) = (xm / x)^alpha` for x ≥ xm. Heavy-tailed; the mean is infinite
   * for alpha ≤ 1 and the variance for alpha ≤ 2.
   */
  pareto(xm: number, alpha: number): number {
    return xm / Math.pow(1 - this.next(), 1 / alpha);
  }

  /** Picks a key of `weights` with probability proportional to its weight (all ≥ 0, sum > 0). */
  weighted<K extends string>(weights: Readonly<Partial<Record<K, number>>>): K {
    const keys = Object.keys(weights) as K[];
    let total = 0;
    for (const k of keys) total += weights[k] ?? 0;
    if (!(total > 0)) throw new SimError('E_SIM_CONFIG', 'weights must have a positive sum');
    let x = this.next() * total;
    for (const k of keys) {
      x -= weights[k] ?? 0;
      if (x < 0) return k;
    }
    return keys[keys.length - 1]!;
  }

  /**
   * An independent child generator (its seed drawn from this one). Give each simulated device
   * its own fork, so adding a device does not shift the draws of the others.
   */
  fork(): Rng {
    return new Rng(this.uint32() | 0);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

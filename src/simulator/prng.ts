/**
 * A small seeded PRNG (sfc32, seeded through splitmix32) so a seeded portal is the same on every
 * machine and run. Math.random is never used by the simulator's data generation.
 */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Picks by relative weights: pickWeighted([["a", 3], ["b", 1]]). */
  pickWeighted<T>(items: ReadonlyArray<readonly [T, number]>): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let r = this.next() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    return items[items.length - 1]![0];
  }

  /** `count` distinct items (fewer if the list is shorter). */
  sample<T>(items: readonly T[], count: number): T[] {
    // A partial Fisher-Yates shuffle that keeps only the swapped positions: the same picks as
    // shuffling a copy, without copying a million-record list to draw two of it.
    const swapped = new Map<number, T>();
    const at = (k: number): T => (swapped.has(k) ? swapped.get(k)! : items[k]!);
    const n = Math.min(count, items.length);
    const out: T[] = [];
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(this.next() * (items.length - i));
      const picked = at(j);
      swapped.set(j, at(i));
      out.push(picked);
    }
    return out;
  }

  /** A derived generator, so adding data to one part of the portal doesn't shift another. */
  fork(salt: number): Prng {
    return new Prng((this.int(0, 0xffffffff) ^ Math.imul(salt, 0x9e3779b1)) >>> 0);
  }
}

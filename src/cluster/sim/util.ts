/**
 * Small helpers shared by the simulated cluster: immutable copies for the objects it stores and hands
 * out, a binary heap for ordered timers and queues, uids, and the cluster's timestamp format.
 */
import { randomFillSync } from 'node:crypto';

import { isImmutable } from '../../core/immutable.js';

export { isImmutable } from '../../core/immutable.js';

/**
 * Deep copy of JSON-like data with every object and array in it frozen. The sim copies what callers
 * give it once, on the way in; from then on its objects are immutable (a change replaces an object,
 * sharing the unchanged parts), so the same object can go to every watcher and every caller without
 * a copy, and nobody can change the cluster's state behind its back. A hand-rolled walk is several
 * times faster than structuredClone for small objects.
 */
export function freezeCopy<T>(value: T): T {
  return copyFrozen(value) as T;
}

const EMPTY_OBJECT = Object.freeze({});
const EMPTY_ARRAY = Object.freeze([]);

function copyFrozen(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  // Immutable already (a value Runway froze, an object the sim handed out): shared, not copied.
  if (Object.isFrozen(value) && (isImmutable(value) || isDeepFrozen(value))) return value;
  if (Array.isArray(value)) {
    const n = value.length;
    if (n === 0) return EMPTY_ARRAY;
    const out: unknown[] = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = copyFrozen(value[i]);
    return Object.freeze(out);
  }
  const out: Record<string, unknown> = {};
  const src = value as Record<string, unknown>;
  let empty = true;
  // for-in is the fastest walk in V8; the sim only ever holds plain objects, so nothing is inherited.
  for (const key in src) {
    out[key] = copyFrozen(src[key]);
    empty = false;
  }
  // Empty maps (no annotations, no env) are all the same immutable object.
  return empty ? EMPTY_OBJECT : Object.freeze(out);
}

/** True when the value and everything in it is frozen: nobody can change it, so it can be shared. */
function isDeepFrozen(value: object): boolean {
  if (!Object.isFrozen(value)) return false;
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) if (typeof item === 'object' && item !== null && !isDeepFrozen(item)) return false;
    return true;
  }
  const obj = value as Record<string, unknown>;
  for (const key in obj) {
    const v = obj[key];
    if (typeof v === 'object' && v !== null && !isDeepFrozen(v)) return false;
  }
  return true;
}

/** Freezes a value the sim built itself, and everything in it; frozen parts are skipped. */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) deepFreeze(item);
  } else {
    const obj = value as Record<string, unknown>;
    for (const key in obj) deepFreeze(obj[key]);
  }
  return Object.freeze(value);
}

/**
 * A frozen copy of `obj` with some top-level fields replaced (or added at the end). Keys are copied in
 * order, so objects that went through the same changes share V8 hidden classes.
 */
export function withFields<T extends object>(obj: T, fields: Partial<T>): T {
  const out: Record<string, unknown> = {};
  const src = obj as Record<string, unknown>;
  const changes = fields as Record<string, unknown>;
  for (const key in src) out[key] = key in changes ? changes[key] : src[key];
  for (const key in changes) if (!(key in out)) out[key] = changes[key];
  return Object.freeze(out) as T;
}

// Random bytes are drawn in batches: one syscall per 256 uids.
const uuidPool = Buffer.alloc(16 * 256);
let uuidPos = uuidPool.length;
const uuidChars = Buffer.alloc(36);
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A random (v4) UUID. Not crypto.randomUUID: Node builds that string by concatenation, and the
 * rope it returns costs ~500 bytes per uid retained. The digits are written into a buffer and read
 * out as one flat 36-character string (~60 bytes), which is also faster than slicing a hex string.
 */
export function uuid(): string {
  if (uuidPos >= uuidPool.length) {
    randomFillSync(uuidPool);
    uuidPos = 0;
  }
  let o = 0;
  for (let i = 0; i < 16; i++) {
    let b = uuidPool[uuidPos + i] as number;
    if (i === 6) b = (b & 0x0f) | 0x40; // version 4
    else if (i === 8) b = (b & 0x3f) | 0x80; // variant 10
    if (i === 4 || i === 6 || i === 8 || i === 10) uuidChars[o++] = 0x2d; // '-'
    uuidChars[o++] = HEX_DIGITS[b >> 4] as number;
    uuidChars[o++] = HEX_DIGITS[b & 15] as number;
  }
  uuidPos += 16;
  return uuidChars.toString('latin1', 0, 36);
}

/** Deep equality of JSON-like values (key order aside): whether an update changes anything. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  return keys.every((k) => Object.hasOwn(y, k) && sameJson(x[k], y[k]));
}

/** Timestamps the way the sim writes them into objects: ISO 8601 in UTC. */
export function iso(ms: number): string {
  // Many objects are stamped within the same instant of a virtual clock: format each instant once.
  if (ms !== lastIsoMs) {
    lastIsoMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}
let lastIsoMs = Number.NaN;
let lastIso = '';

/** A binary min-heap ordered by `less`. */
export class MinHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(a[i] as T, a[parent] as T)) break;
      [a[i], a[parent]] = [a[parent] as T, a[i] as T];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && this.less(a[l] as T, a[m] as T)) m = l;
      if (r < a.length && this.less(a[r] as T, a[m] as T)) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m] as T, a[i] as T];
      i = m;
    }
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }

  /** Keeps only the items that pass `keep`, in heap order again. */
  retain(keep: (item: T) => boolean): void {
    const kept = this.items.filter(keep);
    this.items.length = 0;
    for (const item of kept) this.push(item);
  }
}

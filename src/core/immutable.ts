/**
 * Immutable values. Specs, estimates, AIJob intents and Job manifests are built once and never changed
 * afterwards; frozen, they can be shared by whatever stores them (the AIJob, the embedded cluster, the
 * cache) instead of copied, and a stray write throws rather than silently changing a stored object.
 */

const roots = new WeakSet<object>();

/**
 * Freezes a JSON-like value and everything in it (parts already frozen are taken as done), and
 * remembers it as immutable all the way down, so that isImmutable() answers without a walk.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  freezeAll(value);
  roots.add(value);
  return value;
}

/**
 * Records a value its builder froze all the way down itself (no walk): isImmutable() then answers true.
 * Only for values that really are frozen throughout.
 */
export function markImmutable<T extends object>(value: T): T {
  roots.add(value);
  return value;
}

/** True for a value deepFreeze() froze (or a part of one the caller knows about). */
export function isImmutable(value: object): boolean {
  return roots.has(value);
}

function freezeAll(value: object): void {
  if (Object.isFrozen(value)) return;
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) if (typeof item === 'object' && item !== null) freezeAll(item);
  } else {
    const obj = value as Record<string, unknown>;
    for (const key in obj) {
      const v = obj[key];
      if (typeof v === 'object' && v !== null) freezeAll(v);
    }
  }
  Object.freeze(value);
}

const interned = new Map<string, string>();
const MAX_INTERNED = 10_000;

/**
 * One shared copy of a string that many stored objects repeat (a tenant id, an image): a string parsed
 * from a request is a new copy each time, kept for as long as its job is. Bounded: cleared when full.
 */
export function intern(s: string): string {
  const shared = interned.get(s);
  if (shared !== undefined) return shared;
  if (interned.size >= MAX_INTERNED) interned.clear();
  interned.set(s, s);
  return s;
}

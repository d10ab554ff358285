/**
 * Objects from typed client-node calls carry Date instances where the wire has RFC 3339 strings;
 * watch events carry the strings. `toWire` turns both into the wire shape (second precision, as the
 * API server writes it) so the caches and the status mapping see one format.
 */
function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function toWire<T>(value: T): T {
  if (value instanceof Date) return iso(value) as unknown as T;
  if (Array.isArray(value)) return value.map((v: unknown) => toWire(v)) as unknown as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toWire(v);
    return out as T;
  }
  return value;
}

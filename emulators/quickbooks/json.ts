// Small typed accessors over the JSON records the store keeps (entities are kept in their wire shape).
export type Rec = Record<string, unknown>;

export function isRec(value: unknown): value is Rec {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function rec(value: unknown): Rec | undefined {
  return isRec(value) ? value : undefined;
}

export function str(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

export function recs(value: unknown): Rec[] {
  if (Array.isArray(value)) return value.filter(isRec);
  return isRec(value) ? [value] : [];
}

/** The `value` of a ReferenceType ({value, name}); QuickBooks also accepts a bare string. */
export function refValue(value: unknown): string | undefined {
  if (isRec(value)) return str(value.value);
  return str(value);
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Drops null and undefined members recursively: QuickBooks omits properties without a value. */
export function withoutNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutNulls) as T;
  if (isRec(value)) {
    const out: Rec = {};
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = withoutNulls(v);
    return out as T;
  }
  return value;
}

// Looking a user-supplied key (an item name, a tax name, a card brand) up in a plain object without
// falling into Object.prototype: `{}['constructor']` is a function, `{}['__proto__']` an object, and an
// item named "constructor" must simply be "not mapped".

export function ownValue<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

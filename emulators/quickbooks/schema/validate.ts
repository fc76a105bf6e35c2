// Checks a write body against Intuit's XSD (generated into xsd.generated.ts): an unknown property anywhere in
// the tree gives 2010 as QuickBooks does (VCR error/400_json.yml), a value outside an XSD enumeration gives 2170,
// and a non-numeric decimal gives 2040. JSON mapping: XSD attributes (domain, sparse, status) are plain keys,
// and simpleContent types such as ReferenceType become {value, name, type}.
import { faults } from '../errors.ts';
import { xsd } from './xsd.generated.ts';

export interface FieldInfo {
  type: string;
  many: boolean;
}

const fieldCache = new Map<string, Map<string, FieldInfo>>();

/** Every JSON property a type accepts, including those inherited through XSD extension. */
export function fieldsOf(typeName: string): Map<string, FieldInfo> {
  const cached = fieldCache.get(typeName);
  if (cached) return cached;
  const chain: string[] = [];
  for (let t: string | undefined = typeName; t && xsd.complexTypes[t]; t = xsd.complexTypes[t]!.base) chain.unshift(t);
  const fields = new Map<string, FieldInfo>();
  for (const t of chain) {
    const ct = xsd.complexTypes[t]!;
    if (ct.simpleContent) fields.set('value', { type: 'string', many: false });
    for (const [name, info] of Object.entries(ct.fields)) fields.set(name, info);
  }
  fieldCache.set(typeName, fields);
  return fields;
}

export function isKnownType(typeName: string): boolean {
  return xsd.complexTypes[typeName] !== undefined;
}

export function enumValues(typeName: string): readonly string[] | undefined {
  return xsd.enums[typeName];
}

const DECIMAL_TYPES = new Set(['decimal', 'double', 'float', 'int', 'integer', 'long']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Throws the QuickBooks fault for the first problem found; `entity` names the class in the 2010 detail. */
export function checkAgainstSchema(entity: string, typeName: string, value: Record<string, unknown>, path = ''): void {
  const fields = fieldsOf(typeName);
  for (const [key, child] of Object.entries(value)) {
    const info = fields.get(key);
    if (!info) throw faults.unknownProperty(path ? `${path}.${key}` : key, entity, [...fields.keys()]);
    if (child === null || child === undefined) continue;
    const childPath = path ? `${path}.${key}` : key;
    const items = info.many && Array.isArray(child) ? child : [child];
    for (const item of items) checkValue(entity, info, item, childPath);
  }
}

function checkValue(entity: string, info: FieldInfo, item: unknown, path: string): void {
  if (isKnownType(info.type)) {
    if (isPlainObject(item)) checkAgainstSchema(entity, info.type, item, path);
    else if (fieldsOf(info.type).has('value') && (typeof item === 'string' || typeof item === 'number')) return;
    else throw faults.unknownProperty(path, entity, [...fieldsOf(info.type).keys()]);
    return;
  }
  const allowed = enumValues(info.type);
  if (allowed && typeof item === 'string' && !allowed.includes(item))
    throw faults.invalidEnum(path, item, [...allowed]);
  if (
    DECIMAL_TYPES.has(info.type) &&
    typeof item !== 'number' &&
    !(typeof item === 'string' && /^-?\d+(\.\d+)?$/.test(item))
  ) {
    throw faults.invalidNumber(path, item);
  }
}

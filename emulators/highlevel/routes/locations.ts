// Locations (apps/locations.json): the sub-account with business details and settings; custom fields.
// HighLevel exposes no currency on a location (reference §8); the emulator's internal one stays hidden.
import { z } from 'zod';
import { HighLevelError } from '../errors.ts';
import { alphanumericId } from '../ids.ts';
import { paramsOf, queryOf, type HttpContext } from '../http.ts';
import type { CustomFieldDef, Location } from '../model.ts';
import { parse } from '../validate.ts';

export function locationJson(l: Location): Record<string, unknown> {
  return {
    id: l.id,
    companyId: l.companyId,
    name: l.name,
    domain: '',
    address: l.address,
    city: l.city,
    state: l.state,
    logoUrl: '',
    country: l.country,
    postalCode: l.postalCode,
    website: l.website,
    timezone: l.timezone,
    firstName: 'Owner',
    lastName: l.name.split(' ')[0] ?? 'Owner',
    email: l.email,
    phone: l.phone,
    business: {
      name: l.name,
      address: l.address,
      city: l.city,
      state: l.state,
      country: l.country,
      postalCode: l.postalCode,
      website: l.website,
      timezone: l.timezone,
      logoUrl: '',
    },
    social: {},
    settings: {
      allowDuplicateContact: l.allowDuplicateContact,
      allowDuplicateOpportunity: false,
      allowFacebookNameMerge: false,
      disableContactTimezone: false,
    },
    reseller: {},
  };
}

function customFieldJson(f: CustomFieldDef): Record<string, unknown> {
  return {
    id: f.id,
    name: f.name,
    fieldKey: f.fieldKey,
    placeholder: f.placeholder,
    dataType: f.dataType,
    position: f.position,
    picklistOptions: f.picklistOptions,
    picklistImageOptions: [],
    isAllowedCustomOption: false,
    isMultiFileAllowed: false,
    maxFileLimit: 0,
    locationId: f.locationId,
    model: f.model,
    standard: false,
  };
}

const DATA_TYPES = [
  'TEXT',
  'LARGE_TEXT',
  'NUMERICAL',
  'PHONE',
  'MONETORY',
  'CHECKBOX',
  'SINGLE_OPTIONS',
  'MULTIPLE_OPTIONS',
  'FLOAT',
  'TIME',
  'DATE',
  'TEXTBOX_LIST',
  'FILE_UPLOAD',
  'SIGNATURE',
  'RADIO',
  'EMAIL',
] as const;

const customFieldBody = z.object({
  name: z.string().min(1),
  dataType: z.enum(DATA_TYPES),
  placeholder: z.string().optional(),
  position: z.number().optional(),
  model: z.enum(['contact', 'opportunity']).optional(),
  options: z.array(z.string()).optional(),
  acceptedFormat: z.array(z.string()).optional(),
  isMultipleFile: z.boolean().optional(),
  maxNumberOfFiles: z.number().optional(),
  textBoxListOptions: z.array(z.unknown()).optional(),
});
const customFieldUpdateBody = customFieldBody.partial();

function fieldKeyOf(name: string): string {
  return (
    name
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'field'
  );
}

export function registerLocationRoutes(ctx: HttpContext): void {
  const { core } = ctx;
  const read = { scopes: ['locations.readonly'], agency: true };

  ctx.route('GET', '/locations/:locationId', read, (request) => {
    const location = ctx.location(request, paramsOf(request).locationId);
    return { location: locationJson(location), traceId: core.traceId() };
  });

  ctx.route(
    'GET',
    '/locations/:locationId/customFields',
    { scopes: ['locations/customFields.readonly'] },
    (request) => {
      const location = ctx.location(request, paramsOf(request).locationId);
      const model = queryOf(request).model ?? 'all';
      const fields = [...core.store.customFields.values()]
        .filter((f) => f.locationId === location.id && (model === 'all' || f.model === model))
        .sort((a, b) => a.position - b.position);
      return { customFields: fields.map(customFieldJson), traceId: core.traceId() };
    },
  );

  ctx.route(
    'GET',
    '/locations/:locationId/customFields/:id',
    { scopes: ['locations/customFields.readonly'] },
    (request) => {
      const p = paramsOf(request);
      const location = ctx.location(request, p.locationId);
      const field = core.store.customFields.get(p.id ?? '');
      if (!field || field.locationId !== location.id)
        throw new HighLevelError(400, { statusCode: 400, message: 'Custom field not found' });
      return { customField: customFieldJson(field) };
    },
  );

  ctx.route(
    'POST',
    '/locations/:locationId/customFields',
    { scopes: ['locations/customFields.write'] },
    (request, reply) => {
      const location = ctx.location(request, paramsOf(request).locationId);
      const body = parse(customFieldBody, request.body);
      const key = `contact.${fieldKeyOf(body.name)}`;
      for (const f of core.store.customFields.values()) {
        if (f.locationId === location.id && f.fieldKey === key)
          throw new HighLevelError(400, { statusCode: 400, message: `Custom field with key ${key} already exists` });
      }
      const existing = [...core.store.customFields.values()].filter((f) => f.locationId === location.id).length;
      const field: CustomFieldDef = {
        id: alphanumericId(),
        locationId: location.id,
        name: body.name,
        fieldKey: key,
        dataType: body.dataType,
        placeholder: body.placeholder ?? '',
        position: body.position ?? existing * 50,
        model: body.model ?? 'contact',
        picklistOptions: body.options ?? [],
      };
      core.store.customFields.set(field.id, field);
      return reply.code(200).send({ customField: customFieldJson(field), traceId: core.traceId() });
    },
  );

  ctx.route(
    'PUT',
    '/locations/:locationId/customFields/:id',
    { scopes: ['locations/customFields.write'] },
    (request) => {
      const p = paramsOf(request);
      const location = ctx.location(request, p.locationId);
      const field = core.store.customFields.get(p.id ?? '');
      if (!field || field.locationId !== location.id)
        throw new HighLevelError(400, { statusCode: 400, message: 'Custom field not found' });
      const body = parse(customFieldUpdateBody, request.body);
      if (body.name) field.name = body.name;
      if (body.placeholder !== undefined) field.placeholder = body.placeholder;
      if (body.position !== undefined) field.position = body.position;
      if (body.options) field.picklistOptions = body.options;
      return { customField: customFieldJson(field) };
    },
  );

  ctx.route(
    'DELETE',
    '/locations/:locationId/customFields/:id',
    { scopes: ['locations/customFields.write'] },
    (request) => {
      const p = paramsOf(request);
      const location = ctx.location(request, p.locationId);
      const field = core.store.customFields.get(p.id ?? '');
      if (!field || field.locationId !== location.id)
        throw new HighLevelError(400, { statusCode: 400, message: 'Custom field not found' });
      core.store.customFields.delete(field.id);
      return { succeded: true };
    },
  );
}

// Products (apps/products.json): the location's catalogue, listed with GET /products/ (scope products.readonly).
// The list answers `{products, total: [{total}]}` (ListProductsResponseDto); each product carries `_id`, `name`,
// `productType`, `description`, `locationId`, `variants`, `taxes`, `collectionIds` and its dates (the shape of a real
// answer in highlevel-api-docs issue 111). Products are made in HighLevel's UI; the admin API stands in for it.
import { z } from 'zod';
import { queryOf, type HttpContext } from '../http.ts';
import type { Product } from '../model.ts';
import { parse } from '../validate.ts';

const listQuery = z
  .object({
    locationId: z.string().min(1),
    limit: z.coerce.number().int().min(0).optional(),
    offset: z.coerce.number().int().min(0).optional(),
    search: z.string().optional(),
    sortOrder: z.enum(['asc', 'desc']).optional(),
  })
  .loose();

/** HighLevel's own page size when `limit` is absent or 0 (assumed: the spec's default is 0, meaning "not set"). */
const DEFAULT_LIMIT = 100;

export function productJson(p: Product): Record<string, unknown> {
  return {
    _id: p.id,
    description: p.description,
    variants: [],
    locationId: p.locationId,
    name: p.name,
    productType: p.productType,
    availableInStore: false,
    createdAt: new Date(p.createdAt).toISOString(),
    updatedAt: new Date(p.updatedAt).toISOString(),
    collectionIds: [],
    isTaxesEnabled: false,
    taxes: [],
  };
}

export function registerProductRoutes(ctx: HttpContext): void {
  const { core } = ctx;

  ctx.route('GET', '/products/', { scopes: ['products.readonly'] }, (request) => {
    const q = parse(listQuery, queryOf(request));
    const location = ctx.location(request, q.locationId);
    const search = q.search?.trim().toLowerCase() ?? '';
    const direction = q.sortOrder === 'asc' ? 1 : -1;
    const matching = [...core.store.products.ofLocation(location.id)]
      .filter((p) => search === '' || p.name.toLowerCase().includes(search))
      .sort((a, b) => direction * (a.createdAt - b.createdAt) || direction * a.id.localeCompare(b.id));
    const offset = q.offset ?? 0;
    const limit = q.limit ? q.limit : DEFAULT_LIMIT;
    return {
      products: matching.slice(offset, offset + limit).map(productJson),
      total: [{ total: matching.length }],
    };
  });
}

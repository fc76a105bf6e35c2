// Products (spec apps/products.json, GET /products/): listed so a bookkeeper can map each product to a QuickBooks
// item. The list answers `{products, total: [{total}]}`; `search` narrows it by name, `limit`/`offset` page it.
import { z } from 'zod';
import { API_VERSION, type HighLevelHttp } from './http.ts';

export const productSchema = z.looseObject({
  _id: z.string(),
  name: z.string(),
  productType: z.string().optional(),
  description: z.string().optional(),
  locationId: z.string().optional(),
});
export type Product = z.infer<typeof productSchema>;

const listSchema = z.looseObject({
  products: z.array(productSchema).default([]),
  total: z.array(z.looseObject({ total: z.number().optional() })).default([]),
});

export class ProductsApi {
  constructor(private readonly http: HighLevelHttp) {}

  /** One page of the location's products, by name when `search` is given. */
  async list(options: { search?: string; limit?: number; offset?: number } = {}): Promise<{
    products: Product[];
    total: number | undefined;
  }> {
    const search = options.search?.trim();
    const answer = await this.http.request({
      method: 'GET',
      path: '/products/',
      query: {
        locationId: this.http.locationId,
        limit: String(options.limit ?? 100),
        offset: String(options.offset ?? 0),
        ...(search ? { search } : {}),
      },
      version: API_VERSION,
      schema: listSchema,
    });
    return { products: answer.products, total: answer.total[0]?.total };
  }
}

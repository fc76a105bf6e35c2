// Location (sub-account) details (reference §8; spec apps/locations.json). No currency field exists at
// location level: currency comes from each document.
import { z } from 'zod';
import { API_VERSION, type HighLevelHttp } from './http.ts';

export const locationSchema = z.looseObject({
  id: z.string(),
  companyId: z.string().optional(),
  name: z.string().optional(),
  email: z.string().nullable().optional(),
  phone: z.string().nullable().optional(),
  address: z.string().nullable().optional(),
  city: z.string().nullable().optional(),
  state: z.string().nullable().optional(),
  country: z.string().nullable().optional(),
  postalCode: z.string().nullable().optional(),
  timezone: z.string().nullable().optional(),
  website: z.string().nullable().optional(),
  business: z.looseObject({ name: z.string().optional() }).optional(),
  settings: z.looseObject({ allowDuplicateContact: z.boolean().optional() }).optional(),
});
export type Location = z.infer<typeof locationSchema>;

export class LocationsApi {
  constructor(private readonly http: HighLevelHttp) {}

  /** This client's location, or another one the token may see (agency tokens). */
  async get(locationId: string = this.http.locationId): Promise<Location> {
    const answer = await this.http.request({
      method: 'GET',
      path: `/locations/${encodeURIComponent(locationId)}`,
      version: API_VERSION,
      schema: z.looseObject({ location: locationSchema }),
    });
    return answer.location;
  }
}

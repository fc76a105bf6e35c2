// Location custom fields (spec apps/locations.json): where a contact's QuickBooks customer id can be shown.
import { z } from 'zod';
import { API_VERSION, type HighLevelHttp } from './http.ts';

export const customFieldSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  fieldKey: z.string().optional(),
  dataType: z.string().optional(),
  model: z.string().optional(),
  locationId: z.string().optional(),
});
export type CustomField = z.infer<typeof customFieldSchema>;

export class CustomFieldsApi {
  constructor(private readonly http: HighLevelHttp) {}

  private get path(): string {
    return `/locations/${encodeURIComponent(this.http.locationId)}/customFields`;
  }

  async list(model: 'contact' | 'opportunity' | 'all' = 'contact'): Promise<CustomField[]> {
    const answer = await this.http.request({
      method: 'GET',
      path: this.path,
      query: { model },
      version: API_VERSION,
      schema: z.looseObject({ customFields: z.array(customFieldSchema).default([]) }),
    });
    return answer.customFields;
  }

  async create(input: {
    name: string;
    dataType: string;
    placeholder?: string;
    model?: 'contact' | 'opportunity';
  }): Promise<CustomField> {
    const answer = await this.http.request({
      method: 'POST',
      path: this.path,
      body: input,
      version: API_VERSION,
      schema: z.union([
        z.looseObject({ customField: customFieldSchema }).transform((a) => a.customField),
        customFieldSchema,
      ]),
    });
    return answer;
  }

  /** The field with this name, created when missing (names are how the dashboard refers to them). */
  async ensure(name: string, dataType = 'TEXT'): Promise<CustomField> {
    const existing = (await this.list()).find((f) => f.name === name);
    return existing ?? this.create({ name, dataType, model: 'contact' });
  }
}

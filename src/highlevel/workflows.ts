// Workflows (spec apps/workflows.json): listed so the dashboard can offer the review-request workflow.
import { z } from 'zod';
import { API_VERSION, type HighLevelHttp } from './http.ts';

export const workflowSchema = z.looseObject({
  id: z.string(),
  name: z.string().optional(),
  status: z.string().optional(),
  locationId: z.string().optional(),
});
export type Workflow = z.infer<typeof workflowSchema>;

export class WorkflowsApi {
  constructor(private readonly http: HighLevelHttp) {}

  async list(): Promise<Workflow[]> {
    const answer = await this.http.request({
      method: 'GET',
      path: '/workflows/',
      query: { locationId: this.http.locationId },
      version: API_VERSION,
      schema: z.looseObject({ workflows: z.array(workflowSchema).default([]) }),
    });
    return answer.workflows;
  }
}

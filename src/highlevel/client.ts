// The HighLevel client for one location: one request core, one object per API family.
import { ContactsApi } from './contacts.ts';
import { ConversationsApi } from './conversations.ts';
import { CustomFieldsApi } from './customFields.ts';
import { HighLevelHttp, type HighLevelHttpOptions } from './http.ts';
import { InvoicesApi } from './invoices.ts';
import type { DailyBudget } from './limiter.ts';
import { LocationsApi } from './locations.ts';
import { PaymentsApi } from './payments.ts';
import { ProductsApi } from './products.ts';
import { WorkflowsApi } from './workflows.ts';

export class HighLevelClient {
  readonly http: HighLevelHttp;
  readonly contacts: ContactsApi;
  readonly invoices: InvoicesApi;
  readonly payments: PaymentsApi;
  readonly products: ProductsApi;
  readonly locations: LocationsApi;
  readonly workflows: WorkflowsApi;
  readonly conversations: ConversationsApi;
  readonly customFields: CustomFieldsApi;

  constructor(options: HighLevelHttpOptions | HighLevelHttp) {
    this.http = options instanceof HighLevelHttp ? options : new HighLevelHttp(options);
    this.contacts = new ContactsApi(this.http);
    this.invoices = new InvoicesApi(this.http);
    this.payments = new PaymentsApi(this.http);
    this.products = new ProductsApi(this.http);
    this.locations = new LocationsApi(this.http);
    this.workflows = new WorkflowsApi(this.http);
    this.conversations = new ConversationsApi(this.http);
    this.customFields = new CustomFieldsApi(this.http);
  }

  get locationId(): string {
    return this.http.locationId;
  }

  /** What HighLevel last said of this location's daily request budget (undefined when not tracked or not yet heard). */
  dailyBudget(): DailyBudget | undefined {
    return this.http.dailyBudget();
  }
}

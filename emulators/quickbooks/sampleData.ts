// The sample data of a sandbox company (admin option `sampleData`): Intuit's sandbox companies come with a landscaping
// business's books, so third-party tests written against a real sandbox expect Expense accounts, several items and
// customers to exist. The names and account types below are a small hand-written subset of what the recorded sandbox
// answers list (NangoHQ/integration-templates integrations/quickbooks/tests/accounts.test.json, items.test.json,
// customers.test.json; minimul/qbo_api spec/vcr/all/customers.yml); Ids follow the emulator's own counters. The
// classes and locations are the emulator's own (no recorded sandbox lists any).
import type { Company, EntityName } from './company.ts';
import type { Rec } from './json.ts';

type Add = (entity: EntityName, body: Rec, id?: string) => Rec;

const expenseAccounts: Array<[name: string, subType: string]> = [
  ['Advertising', 'AdvertisingPromotional'],
  ['Automobile', 'Auto'],
  ['Bank Charges', 'BankCharges'],
  ['Commissions & fees', 'OtherMiscellaneousServiceCost'],
  ['Dues & Subscriptions', 'DuesSubscriptions'],
  ['Equipment Rental', 'EquipmentRental'],
  ['Insurance', 'Insurance'],
  ['Job Expenses', 'OtherMiscellaneousServiceCost'],
  ['Legal & Professional Fees', 'LegalProfessionalFees'],
  ['Meals and Entertainment', 'EntertainmentMeals'],
  ['Office Expenses', 'OfficeGeneralAdministrativeExpenses'],
  ['Purchases', 'SuppliesMaterials'],
  ['Rent or Lease', 'RentOrLeaseOfBuildings'],
  ['Utilities', 'Utilities'],
];

const incomeAccounts: Array<[name: string, subType: string]> = [
  ['Design income', 'OtherPrimaryIncome'],
  ['Landscaping Services', 'OtherPrimaryIncome'],
  ['Pest Control Services', 'OtherPrimaryIncome'],
  ['Other Income', 'OtherPrimaryIncome'],
];

const items: Array<[name: string, unitPrice: number, income: string, description: string]> = [
  ['Design', 75, 'Design income', 'Custom Design'],
  ['Gardening', 0, 'Landscaping Services', 'Weekly Gardening Service'],
  ['Installation', 50, 'Landscaping Services', 'Installation of landscape design'],
  ['Pest Control', 35, 'Pest Control Services', 'Pest control service'],
  ['Trimming', 35, 'Landscaping Services', 'Tree and Shrub Trimming'],
];

const customers: Array<
  [displayName: string, given: string, family: string, email: string, line1: string, city: string, postal: string]
> = [
  ["Amy's Bird Sanctuary", 'Amy', 'Lauterbach', 'Birds@Intuit.com', '4581 Finch St.', 'Bayshore', '94326'],
  ["Bill's Windsurf Shop", 'Bill', 'Lucchini', 'Surf@Intuit.com', '12 Ocean Dr.', 'Half Moon Bay', '94213'],
  ['Cool Cars', 'Grace', 'Pariente', 'Cool_Cars@intuit.com', '65 Ocean Dr.', 'Half Moon Bay', '94213'],
  ['Diego Rodriguez', 'Diego', 'Rodriguez', 'Diego@Rodriguez.com', '321 Channing', 'Palo Alto', '94303'],
  ['Dukes Basketball Camp', 'Peter', 'Dukes', 'Dukes_bball@intuit.com', '25 Court St.', 'Tucson', '85719'],
];

// Classes and locations (Department) a bookkeeper might have set up; tracking stays off as in a new company
// (Preferences.AccountingInfoPrefs), so transactions can name them only once a test turns it on.
const classes: Array<[name: string, parent?: string]> = [['Landscaping'], ['Maintenance'], ['Design', 'Landscaping']];
const departments = ['North', 'South'];

export function addSampleData(company: Company, add: Add, currencyRef: Rec): void {
  const account = (Name: string, AccountType: string, AccountSubType: string, Classification: string): Rec =>
    add('Account', {
      Name,
      SubAccount: false,
      FullyQualifiedName: Name,
      Active: true,
      Classification,
      AccountType,
      AccountSubType,
      CurrentBalance: 0,
      CurrentBalanceWithSubAccounts: 0,
      CurrencyRef: currencyRef,
    });
  for (const [name, subType] of expenseAccounts) account(name, 'Expense', subType, 'Expense');
  const income = new Map(incomeAccounts.map(([name, subType]) => [name, account(name, 'Income', subType, 'Revenue')]));
  for (const [Name, UnitPrice, incomeName, Description] of items) {
    const incomeAccount = income.get(incomeName)!;
    add('Item', {
      Name,
      Description,
      Active: true,
      FullyQualifiedName: Name,
      Taxable: false,
      UnitPrice,
      Type: 'Service',
      IncomeAccountRef: { value: incomeAccount.Id, name: incomeAccount.Name },
      PurchaseCost: 0,
      TrackQtyOnHand: false,
    });
  }
  const classIds = new Map<string, Rec>();
  for (const [Name, parentName] of classes) {
    const parent = parentName ? classIds.get(parentName)! : undefined;
    const record = add('Class', {
      Name,
      SubClass: parent !== undefined,
      ...(parent ? { ParentRef: { value: parent.Id } } : {}),
      FullyQualifiedName: parent ? `${String(parent.FullyQualifiedName)}:${Name}` : Name,
      Active: true,
    });
    classIds.set(Name, record);
  }
  for (const Name of departments)
    add('Department', { Name, SubDepartment: false, FullyQualifiedName: Name, Active: true });
  const us = company.settings.country === 'US';
  let addressId = 1;
  for (const [DisplayName, GivenName, FamilyName, Address, Line1, City, PostalCode] of customers) {
    const BillAddr = {
      Id: String(++addressId),
      Line1,
      City,
      ...(us ? { CountrySubDivisionCode: 'CA' } : {}),
      PostalCode,
    };
    add('Customer', {
      Taxable: us,
      BillAddr,
      ShipAddr: BillAddr,
      Job: false,
      BillWithParent: false,
      Balance: 0,
      BalanceWithJobs: 0,
      CurrencyRef: currencyRef,
      PreferredDeliveryMethod: 'Print',
      IsProject: false,
      GivenName,
      FamilyName,
      FullyQualifiedName: DisplayName,
      CompanyName: DisplayName,
      DisplayName,
      PrintOnCheckName: DisplayName,
      Active: true,
      PrimaryEmailAddr: { Address },
    });
  }
}

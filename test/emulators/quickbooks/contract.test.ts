// Contract with Intuit's XSD: every property the emulator returns is an element (or attribute) the schema
// declares for that type, walked recursively; and the generated schema file matches the XSD on disk.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findVendorSpecs } from '../../../emulators/common/vendorSpecs.ts';
import { loadXsdDir } from '../../../emulators/quickbooks/schema/generate.ts';
import { xsd } from '../../../emulators/quickbooks/schema/xsd.generated.ts';
import type { ApiAnswer, Json, Sandbox } from './helpers.ts';
import { createCustomer, createServiceItem, entity, fault, startSandbox } from './helpers.ts';

const { dir: XSD_DIR, missing } = findVendorSpecs('quickbooks/xsd');

/** An independent reading of the XSD: complexType blocks, their elements/attributes and extension bases. */
class SchemaReader {
  private readonly blocks = new Map<string, string>();
  constructor(dir: string) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.xsd'))) {
      const text = readFileSync(join(dir, file), 'utf8').replace(/<xs:annotation>[\s\S]*?<\/xs:annotation>/g, '');
      const open = /<xs:complexType name="([^"]+)"[^>]*>/g;
      let m: RegExpExecArray | null;
      while ((m = open.exec(text))) {
        // Find the matching close tag, counting nested complexTypes.
        let depth = 1;
        const tag = /<(\/?)xs:complexType\b[^>]*?(\/?)>/g;
        tag.lastIndex = open.lastIndex;
        let t: RegExpExecArray | null;
        let end = text.length;
        while ((t = tag.exec(text))) {
          if (t[2]) continue;
          depth += t[1] ? -1 : 1;
          if (depth === 0) {
            end = t.index;
            break;
          }
        }
        this.blocks.set(m[1]!, text.slice(open.lastIndex, end));
      }
    }
  }

  has(type: string): boolean {
    return this.blocks.has(type);
  }

  /** property -> type (undefined for simple types) */
  fields(type: string): Map<string, string | undefined> {
    const block = this.blocks.get(type);
    const out = new Map<string, string | undefined>();
    if (!block) return out;
    const base = /<xs:extension base="(?:\w+:)?([^"]+)"/.exec(block)?.[1];
    if (base && /<xs:simpleContent>/.test(block)) out.set('value', undefined);
    else if (base) for (const [k, v] of this.fields(base)) out.set(k, v);
    for (const el of block.matchAll(/<xs:(element|attribute) name="([^"]+)"(?:[^>]*?type="(?:\w+:)?([^"]+)")?/g)) {
      out.set(el[2]!, el[3] && this.blocks.has(el[3]) ? el[3] : undefined);
    }
    return out;
  }
}

function unknownProperties(reader: SchemaReader, type: string, value: unknown, path: string, problems: string[]): void {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) unknownProperties(reader, type, v, `${path}[${i}]`, problems);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const fields = reader.fields(type);
  for (const [key, child] of Object.entries(value)) {
    if (!fields.has(key)) {
      problems.push(`${path}.${key} is not in XSD type ${type}`);
      continue;
    }
    const childType = fields.get(key);
    // IntuitAnyType is xs:any: QuickBooks renders its content as JAXB elements ({"any":[{name, declaredType, value...}]},
    // payment LineEx in the NangoHQ recordings), which no XSD type declares.
    if (childType && childType !== 'IntuitAnyType')
      unknownProperties(reader, childType, child, `${path}.${key}`, problems);
  }
}

describe('QuickBooks emulator contract with Intuit XSD', { skip: missing }, () => {
  it('keeps schema/xsd.generated.ts in step with the XSD files', () => {
    assert.deepEqual(loadXsdDir(XSD_DIR), JSON.parse(JSON.stringify(xsd)));
  });

  async function sample(sb: Sandbox, ca: boolean): Promise<Array<[string, Json]>> {
    const out: Array<[string, Json]> = [];
    const keep = (name: string, answer: ApiAnswer): Json => {
      const e = entity(answer, name);
      out.push([name, e]);
      return e;
    };
    const codes = (
      (await sb.api('GET', `query?query=${encodeURIComponent('select * from TaxCode')}`)).body.QueryResponse as Json
    ).TaxCode as Json[];
    const taxCode = ca ? codes.find((c) => c.Name === 'GST/PST BC')! : undefined;
    const item = await createServiceItem(
      sb,
      'Contract Service',
      12.5,
      taxCode ? { SalesTaxCodeRef: { value: taxCode.Id } } : {},
    );
    out.push(['Item', item]);
    const customer = await createCustomer(sb, 'Contract Customer', {
      GivenName: 'Con',
      FamilyName: 'Tract',
      PrimaryEmailAddr: { Address: 'c@example.com' },
      PrimaryPhone: { FreeFormNumber: '555-0100' },
      BillAddr: { Line1: '1 Main', City: 'Town', PostalCode: '12345', CountrySubDivisionCode: 'CA' },
      Notes: 'n',
    });
    out.push(['Customer', customer]);
    keep('Vendor', await sb.api('POST', 'vendor', { DisplayName: 'Contract Vendor' }));
    keep('Employee', await sb.api('POST', 'employee', { GivenName: 'Em', FamilyName: 'Ployee' }));
    const lines = [
      {
        Amount: 25,
        Description: 'two',
        DetailType: 'SalesItemLineDetail',
        SalesItemLineDetail: {
          ItemRef: { value: item.Id },
          Qty: 2,
          UnitPrice: 12.5,
          ...(ca ? {} : { TaxCodeRef: { value: 'TAX' } }),
        },
      },
      { DetailType: 'DescriptionOnly', Description: 'note', DescriptionLineDetail: {} },
      { DetailType: 'DiscountLineDetail', DiscountLineDetail: { PercentBased: true, DiscountPercent: 10 } },
    ];
    const invoice = keep(
      'Invoice',
      await sb.api('POST', 'invoice', {
        CustomerRef: { value: customer.Id },
        ...(ca ? { GlobalTaxCalculation: 'TaxInclusive' } : {}),
        Line: lines,
        CustomerMemo: { value: 'Thanks' },
        PrivateNote: 'p',
      }),
    );
    keep(
      'Payment',
      await sb.api('POST', 'payment', {
        CustomerRef: { value: customer.Id },
        TotalAmt: 10,
        PaymentMethodRef: { value: '1' },
        Line: [{ Amount: 10, LinkedTxn: [{ TxnId: invoice.Id, TxnType: 'Invoice' }] }],
      }),
    );
    keep('Invoice', await sb.api('GET', `invoice/${String(invoice.Id)}`));
    keep('Invoice', await sb.api('POST', `invoice/${String(invoice.Id)}/send?sendTo=x@example.com`));
    const receipt = keep(
      'SalesReceipt',
      await sb.api('POST', 'salesreceipt', { CustomerRef: { value: customer.Id }, Line: lines.slice(0, 1) }),
    );
    keep(
      'SalesReceipt',
      await sb.api('POST', 'salesreceipt?operation=void', { Id: receipt.Id, SyncToken: receipt.SyncToken }),
    );
    keep(
      'CreditMemo',
      await sb.api('POST', 'creditmemo', { CustomerRef: { value: customer.Id }, Line: lines.slice(0, 1) }),
    );
    keep(
      'RefundReceipt',
      await sb.api('POST', 'refundreceipt', { CustomerRef: { value: customer.Id }, Line: lines.slice(0, 1) }),
    );
    // Classes and locations, and a receipt tagged with both once the company tracks them.
    await sb.admin('PATCH', `/companies/${sb.realmId}`, { classTrackingPerTxn: true, trackDepartments: true });
    const segment = keep('Class', await sb.api('POST', 'class', { Name: 'Contract Class' }));
    keep('Class', await sb.api('POST', 'class', { Name: 'Contract Sub', ParentRef: { value: segment.Id } }));
    const place = keep(
      'Department',
      await sb.api('POST', 'department', { Name: 'Contract Place', Address: { Line1: '1 Main', City: 'Town' } }),
    );
    keep('Department', await sb.api('POST', 'department', { Name: 'Contract Sub', ParentRef: { value: place.Id } }));
    keep(
      'SalesReceipt',
      await sb.api('POST', 'salesreceipt', {
        CustomerRef: { value: customer.Id },
        ClassRef: { value: segment.Id },
        DepartmentRef: { value: place.Id },
        Line: lines.slice(0, 1),
      }),
    );
    keep('CompanyInfo', await sb.api('GET', `companyinfo/${sb.realmId}`));
    keep('Preferences', await sb.api('GET', 'preferences'));
    for (const name of ['Account', 'PaymentMethod', 'TaxCode', 'TaxRate']) {
      const rows = (
        (await sb.api('GET', `query?query=${encodeURIComponent(`select * from ${name}`)}`)).body.QueryResponse as Json
      )[name] as Json[];
      for (const row of rows) out.push([name, row]);
    }
    return out;
  }

  for (const country of ['US', 'CA'] as const) {
    it(`returns only XSD-declared properties for every entity (${country} company)`, async () => {
      const reader = new SchemaReader(XSD_DIR);
      const sb = await startSandbox({ country });
      try {
        const problems: string[] = [];
        const samples = await sample(sb, country === 'CA');
        for (const [name, record] of samples) {
          assert.ok(reader.has(name), `XSD has ${name}`);
          unknownProperties(reader, name, record, name, problems);
        }
        assert.deepEqual(problems, []);
        assert.ok(samples.length > 20);
      } finally {
        await sb.close();
      }
    });
  }

  it('answers 2010 for a property the XSD does not declare, and accepts every declared top-level Invoice property name', async () => {
    const sb = await startSandbox();
    try {
      const answer = await sb.api('POST', 'invoice', { CustomerRef: { value: '1' }, Line: [], NotAnInvoiceField: 1 });
      assert.equal(fault(answer).code, '2010');
      const reader = new SchemaReader(XSD_DIR);
      assert.ok(reader.fields('Invoice').has('AllowOnlineACHPayment'));
      const accepted = await sb.api('POST', 'customer', { DisplayName: 'Schema Ok', ResaleNum: 'R1', AcctNum: 'A1' });
      assert.equal(accepted.status, 200);
    } finally {
      await sb.close();
    }
  });
});

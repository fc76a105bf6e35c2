import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  depositAccountRef,
  itemForProduct,
  mappedPaymentMethodId,
  mappingChanges,
  NO_TRACKING,
  paymentMethodNames,
  trackingRefs,
  trackingSwitches,
  type MappingChoices,
  type TrackedTransaction,
  type TrackingSwitches,
} from './bookkeepingRefs.ts';

const none: MappingChoices = { products: {}, paymentMethods: {} };
const both: MappingChoices = { ...none, classId: '5', departmentId: '2' };
const perTxn: TrackingSwitches = { ...NO_TRACKING, classPerTransaction: true };
const perLine: TrackingSwitches = { ...NO_TRACKING, classPerLine: true };
const locations: TrackingSwitches = { ...NO_TRACKING, departments: true };
const everything: TrackingSwitches = { classPerTransaction: true, classPerLine: true, departments: true };

describe('trackingRefs: which class and location go on a transaction', () => {
  const cases: Array<{
    name: string;
    mappings: MappingChoices;
    switches: TrackingSwitches;
    transaction: TrackedTransaction;
    expected: { ClassRef?: string; lineClassRef?: string; DepartmentRef?: string; notes: number };
  }> = [
    {
      name: 'nothing mapped, nothing tracked',
      mappings: none,
      switches: NO_TRACKING,
      transaction: 'SalesReceipt',
      expected: { notes: 0 },
    },
    {
      name: 'nothing mapped, all tracked',
      mappings: none,
      switches: everything,
      transaction: 'Invoice',
      expected: { notes: 0 },
    },
    {
      name: 'mapped while tracking is off: left off, with notes',
      mappings: both,
      switches: NO_TRACKING,
      transaction: 'SalesReceipt',
      expected: { notes: 2 },
    },
    {
      name: 'class per transaction: header ClassRef',
      mappings: both,
      switches: perTxn,
      transaction: 'SalesReceipt',
      expected: { ClassRef: '5', notes: 1 },
    },
    {
      name: 'class per row: line ClassRef',
      mappings: both,
      switches: perLine,
      transaction: 'Invoice',
      expected: { lineClassRef: '5', notes: 1 },
    },
    {
      name: 'both class switches: header and lines',
      mappings: both,
      switches: everything,
      transaction: 'RefundReceipt',
      expected: { ClassRef: '5', lineClassRef: '5', DepartmentRef: '2', notes: 0 },
    },
    {
      name: 'locations only',
      mappings: both,
      switches: locations,
      transaction: 'Invoice',
      expected: { DepartmentRef: '2', notes: 1 },
    },
    {
      name: 'a Payment takes no class (2010), only its location',
      mappings: both,
      switches: everything,
      transaction: 'Payment',
      expected: { DepartmentRef: '2', notes: 0 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const refs = trackingRefs(c.mappings, c.switches, c.transaction);
      assert.equal(refs.ClassRef?.value, c.expected.ClassRef);
      assert.equal(refs.lineClassRef?.value, c.expected.lineClassRef);
      assert.equal(refs.DepartmentRef?.value, c.expected.DepartmentRef);
      assert.equal(refs.notes.length, c.expected.notes, refs.notes.join('; '));
    });
  }

  it("says why a mapped location is left off, in the company's own word", () => {
    const refs = trackingRefs({ departmentId: '2' }, { ...NO_TRACKING, departmentTerminology: 'Division' }, 'Invoice');
    assert.match(refs.notes[0]!, /Division tracking is off/);
  });
});

describe('trackingSwitches: read from Preferences', () => {
  it('reads a new company (no AccountingInfoPrefs) as tracking nothing', () => {
    assert.deepEqual(trackingSwitches({}), { ...NO_TRACKING, departmentTerminology: undefined });
  });
  it('reads each switch', () => {
    assert.deepEqual(
      trackingSwitches({
        AccountingInfoPrefs: {
          ClassTrackingPerTxn: false,
          ClassTrackingPerTxnLine: true,
          TrackDepartments: true,
          DepartmentTerminology: 'Location',
        },
      }),
      { classPerTransaction: false, classPerLine: true, departments: true, departmentTerminology: 'Location' },
    );
  });
});

describe('deposit account, product items, payment methods', () => {
  it('deposits to Undeposited Funds (no ref) unless an account is mapped', () => {
    assert.equal(depositAccountRef(none), undefined);
    assert.deepEqual(depositAccountRef({ depositAccountId: '35' }), { value: '35' });
  });

  const products: MappingChoices['products'] = { p1: { itemId: '19', productName: 'Haircut' } };
  const items: Array<[string | null | undefined, string | undefined]> = [
    ['p1', '19'],
    ['p2', undefined],
    [null, undefined],
    [undefined, undefined],
    ['toString', undefined],
  ];
  for (const [productId, expected] of items)
    it(`product ${String(productId)} -> item ${String(expected)}`, () => {
      assert.equal(itemForProduct({ products }, productId), expected);
    });

  const methods: MappingChoices['paymentMethods'] = { card: '3', visa: '4', cash: '1' };
  const keys: Array<[string, string | undefined]> = [
    ['visa', '4'],
    ['mastercard', '3'],
    ['card', '3'],
    ['cash', '1'],
    ['cheque', undefined],
    ['other', undefined],
    ['constructor', undefined],
  ];
  for (const [key, expected] of keys)
    it(`payment key ${key} -> method ${String(expected)}`, () => {
      assert.equal(mappedPaymentMethodId({ paymentMethods: methods }, key), expected);
    });

  it("names a cheque the way the company's country does", () => {
    assert.equal(paymentMethodNames('cheque', 'US')[0], 'Check');
    assert.equal(paymentMethodNames('cheque', 'GB')[0], 'Cheque');
    assert.equal(paymentMethodNames('something new', 'US')[0], 'Other');
  });
});

describe('mappingChanges: what the activity entry of a change says', () => {
  it('names each mapping that changed, and nothing else', () => {
    const after: MappingChoices = {
      ...none,
      depositAccountId: '35',
      products: { p1: { itemId: '19', productName: 'Haircut' } },
      paymentMethods: { visa: '4' },
    };
    assert.deepEqual(mappingChanges(none, after), [
      'deposit account: Undeposited Funds -> 35',
      'product Haircut: item by name -> 19',
      'payment method visa: found by name -> 4',
    ]);
    assert.deepEqual(mappingChanges(after, after), []);
  });
});

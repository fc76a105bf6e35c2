import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { paymentLinesWithout } from './paymentLines.ts';

describe('paymentLinesWithout', () => {
  const read = [
    {
      Amount: 40,
      LinkedTxn: [{ TxnId: '130', TxnType: 'Invoice' }],
      LineEx: {
        any: [{ name: '{http://schema.intuit.com/finance/v3}NameValue', value: { Name: 'txnId', Value: '130' } }],
      },
    },
    {
      Amount: 60,
      LinkedTxn: [{ TxnId: '131', TxnType: 'Invoice', TxnLineId: '0' }],
      LineEx: { any: [] },
      CustomExtensions: [],
    },
  ];

  it('keeps the other lines with only Amount and LinkedTxn (no LineEx or other read-only parts echoed back)', () => {
    assert.deepEqual(paymentLinesWithout(read, '130'), [
      { Amount: 60, LinkedTxn: [{ TxnId: '131', TxnType: 'Invoice' }] },
    ]);
  });

  it('answers undefined when no line applies to the invoice', () => {
    assert.equal(paymentLinesWithout(read, '999'), undefined);
  });

  it('answers an empty list when the invoice was the only application', () => {
    assert.deepEqual(paymentLinesWithout([read[0]!], '130'), []);
  });
});

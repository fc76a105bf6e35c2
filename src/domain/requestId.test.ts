import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { quickbooksRequestId } from './requestId.ts';

const source = {
  connectionId: 'conn_1',
  flow: 'invoices',
  sourceId: '6578278e879ad2646715ba9c',
  sourceVersion: '2026-03-01T10:00:00.000Z',
};

describe('QuickBooks requestid', () => {
  it('is the same for the same write, so a retry after a timeout is answered with the first result', () => {
    assert.equal(quickbooksRequestId(source), quickbooksRequestId({ ...source }));
  });
  it('differs when any part differs, including how the parts are split', () => {
    const id = quickbooksRequestId(source);
    assert.notEqual(quickbooksRequestId({ ...source, sourceVersion: '2026-03-02T10:00:00.000Z' }), id);
    assert.notEqual(quickbooksRequestId({ ...source, flow: 'salesReceipts' }), id);
    assert.notEqual(quickbooksRequestId({ ...source, connectionId: 'conn_2' }), id);
    assert.notEqual(
      quickbooksRequestId({ connectionId: 'ab', flow: 'c', sourceId: 'x', sourceVersion: '1' }),
      quickbooksRequestId({ connectionId: 'a', flow: 'bc', sourceId: 'x', sourceVersion: '1' }),
    );
  });
  it('fits QuickBooks limits: 50 characters, 36 in a batch, URL-safe', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (connectionId, flow, sourceId, sourceVersion) => {
        const single = quickbooksRequestId({ connectionId, flow, sourceId, sourceVersion });
        const batch = quickbooksRequestId({ connectionId, flow, sourceId, sourceVersion }, { batch: true });
        assert.ok(single.length <= 50);
        assert.ok(batch.length <= 36);
        assert.match(single, /^[A-Za-z0-9_-]+$/);
        assert.match(batch, /^[A-Za-z0-9_-]+$/);
      }),
    );
  });
});

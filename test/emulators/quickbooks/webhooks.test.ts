import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { signBody } from '../../../emulators/quickbooks/index.ts';
import type { Json } from './helpers.ts';
import { createCustomer, createServiceItem, entity, startSandbox } from './helpers.ts';

interface Received {
  body: string;
  signature: string;
  at: number;
}

/** A local webhook receiver that answers with the statuses given in turn (then 200). */
async function receiver(
  statuses: number[] = [],
): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ body, signature: String(req.headers['intuit-signature'] ?? ''), at: Date.now() });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** An independent HMAC check, as a receiving app would do it. */
function verify(body: string, signature: string, verifier: string): boolean {
  const expected = createHmac('sha256', verifier).update(body).digest();
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting for webhook deliveries');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('QuickBooks emulator webhooks', () => {
  it('signs with the reference test vector (intuit-signature = base64 HMAC-SHA256 of the raw body)', () => {
    const body =
      '{"eventNotifications":[{"realmId":"1269959970","dataChangeEvent":{"entities":[{"name":"Vendor","id":"40","operation":"Update","lastUpdated":"2016-10-05T03:09:04.000Z"},{"name":"Customer","id":"43","operation":"Create","lastUpdated":"2016-10-05T03:07:04.000Z"}]}}]}';
    assert.equal(
      signBody(body, '00faeec4-08d0-4996-bb37-698ae19f0149'),
      '6q+xGyMirJupwKTh2/WBl2NcdxzxqdIbk3sneKTxLWM=',
    );
  });

  describe('delivery', () => {
    let hook: Awaited<ReturnType<typeof receiver>>;
    before(async () => {
      hook = await receiver();
    });
    after(() => hook.close());

    it('batches changes over the window into one signed CloudEvents array with thin bodies', async () => {
      const sb = await startSandbox({
        clockFactor: 1000,
        webhooks: [{ url: hook.url, verifierToken: 'verifier-ce', format: 'cloudevents', windowMs: 600_000 }],
      });
      try {
        hook.received.length = 0;
        const customer = await createCustomer(sb, 'Hooked Customer', { Notes: 'secret note' });
        const item = await createServiceItem(sb, 'Hook Service', 10);
        const invoice = entity(
          await sb.api('POST', 'invoice', {
            CustomerRef: { value: customer.Id },
            Line: [
              { Amount: 10, DetailType: 'SalesItemLineDetail', SalesItemLineDetail: { ItemRef: { value: item.Id } } },
            ],
          }),
          'Invoice',
        );
        const sent = entity(await sb.api('POST', `invoice/${String(invoice.Id)}/send?sendTo=a@example.com`), 'Invoice');
        await sb.api('POST', 'invoice?operation=void', { Id: invoice.Id, SyncToken: sent.SyncToken });
        await sb.emulator.admin.webhooks.flush();
        assert.equal(hook.received.length, 1, 'one POST for the window');
        const { body, signature } = hook.received[0]!;
        assert.ok(verify(body, signature, 'verifier-ce'));
        assert.ok(!verify(body, signature, 'another-token'));
        const events = JSON.parse(body) as Json[];
        assert.ok(Array.isArray(events));
        assert.deepEqual(
          events.map((e) => e.type),
          [
            'qbo.customer.created.v1',
            'qbo.item.created.v1',
            'qbo.invoice.created.v1',
            'qbo.invoice.emailed.v1',
            'qbo.invoice.voided.v1',
          ],
        );
        for (const e of events) {
          assert.equal(e.specversion, '1.0');
          assert.equal(e.intuitaccountid, sb.realmId);
          assert.deepEqual(e.data, {});
          assert.ok(!Number.isNaN(Date.parse(String(e.time))));
        }
        assert.equal(events[0]!.intuitentityid, customer.Id);
        assert.equal(new Set(events.map((e) => e.id)).size, 5, 'event ids are unique');
        assert.ok(!body.includes('secret note') && !body.includes('Hooked Customer'), 'no field values in the body');
      } finally {
        await sb.close();
      }
    });

    it('sends the legacy eventNotifications format when configured through the admin API', async () => {
      const sb = await startSandbox({ clockFactor: 1000 });
      try {
        const configured = await sb.admin('PUT', '/webhooks', {
          url: hook.url,
          verifierToken: 'verifier-legacy',
          format: 'legacy',
          windowMs: 600_000,
        });
        assert.equal(configured.status, 200);
        hook.received.length = 0;
        const c = await createCustomer(sb, 'Legacy Customer');
        await sb.api('POST', 'customer', { Id: c.Id, SyncToken: c.SyncToken, sparse: true, Notes: 'x' });
        await sb.admin('POST', '/webhooks/flush');
        assert.equal(hook.received.length, 1);
        const { body, signature } = hook.received[0]!;
        assert.ok(verify(body, signature, 'verifier-legacy'));
        const parsed = JSON.parse(body) as {
          eventNotifications: Array<{ realmId: string; dataChangeEvent: { entities: Json[] } }>;
        };
        assert.equal(parsed.eventNotifications.length, 1);
        assert.equal(parsed.eventNotifications[0]!.realmId, sb.realmId);
        assert.deepEqual(
          parsed.eventNotifications[0]!.dataChangeEvent.entities.map((e) => [e.name, e.id, e.operation]),
          [
            ['Customer', c.Id, 'Create'],
            ['Customer', c.Id, 'Update'],
          ],
        );
        const log = await sb.admin('GET', '/webhooks');
        assert.equal((log.body.deliveries as Json[])[0]!.state, 'delivered');
      } finally {
        await sb.close();
      }
    });
  });

  it("retries any non-200 answer on Intuit's schedule compressed by the clock factor", async () => {
    const hook = await receiver([500, 404, 503]);
    const sb = await startSandbox({
      clockFactor: 1000,
      webhooks: [{ url: hook.url, verifierToken: 'v', format: 'cloudevents', windowMs: 10 }],
    });
    try {
      await createCustomer(sb, 'Retry Customer');
      await sb.emulator.admin.webhooks.flush();
      assert.equal(hook.received.length, 4);
      assert.equal(new Set(hook.received.map((r) => r.body)).size, 1, 'retries repeat the same body (and event ids)');
      const gaps = hook.received.slice(1).map((r, i) => r.at - hook.received[i]!.at);
      // 10 s, 20 s, 30 s at factor 1000 -> 10, 20, 30 ms.
      assert.ok(gaps[0]! >= 8 && gaps[1]! >= 18 && gaps[2]! >= 28, `gaps ${gaps.join(',')}`);
      const delivery = sb.emulator.admin.webhooks.deliveries().at(-1)!;
      assert.deepEqual(
        delivery.attempts.map((a) => a.status),
        [500, 404, 503, 200],
      );
    } finally {
      await sb.close();
      await hook.close();
    }
  });

  it('duplicates and drops webhooks when told to', async () => {
    const hook = await receiver();
    const sb = await startSandbox({
      clockFactor: 1000,
      webhooks: [{ url: hook.url, verifierToken: 'v', format: 'legacy', windowMs: 10 }],
    });
    try {
      await sb.admin('PUT', '/faults', { rules: [], webhooks: { duplicate: 1 } });
      await createCustomer(sb, 'Twice Customer');
      await sb.emulator.admin.webhooks.flush();
      assert.equal(hook.received.length, 2);
      assert.equal(hook.received[0]!.body, hook.received[1]!.body);
      await sb.admin('PUT', '/faults', { rules: [], webhooks: { drop: 1 } });
      await createCustomer(sb, 'Lost Customer');
      await sb.emulator.admin.webhooks.flush();
      assert.equal(hook.received.length, 2, 'the dropped delivery never arrives');
      assert.equal(sb.emulator.admin.webhooks.deliveries().at(-1)!.state, 'dropped');
      await sb.admin('DELETE', '/faults');
      assert.equal((await sb.admin('POST', '/webhooks/test', { realmId: sb.realmId })).body.sent, 1);
      await sb.emulator.admin.webhooks.flush();
      assert.equal(hook.received.length, 3);
    } finally {
      await sb.close();
      await hook.close();
    }
  });

  it('reorders webhooks when told to', async () => {
    const hook = await receiver();
    // Clock factor 1: a reordered delivery is held back until the next one goes out (or about 2 s).
    const sb = await startSandbox({
      clockFactor: 1,
      webhooks: [{ url: hook.url, verifierToken: 'v', format: 'legacy', windowMs: 0 }],
    });
    try {
      await sb.admin('PUT', '/faults', { seed: 7, rules: [], webhooks: { reorder: 1 } });
      await createCustomer(sb, 'First Customer');
      await waitFor(() => sb.emulator.admin.webhooks.deliveries().length >= 1);
      await sb.admin('PUT', '/faults', { rules: [] });
      await createCustomer(sb, 'Second Customer');
      await sb.emulator.admin.webhooks.flush();
      const ids = hook.received.map(
        (r) =>
          (JSON.parse(r.body) as { eventNotifications: Array<{ dataChangeEvent: { entities: Json[] } }> })
            .eventNotifications[0]!.dataChangeEvent.entities[0]!.id,
      );
      assert.deepEqual(ids, ['2', '1']);
    } finally {
      await sb.close();
      await hook.close();
    }
  });
});

// GET /products/ (apps/products.json): the location's catalogue, searchable by name and paged, as the mapping screen
// reads it; products are made through the admin API (HighLevel's products screen stands behind it).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { arr, obj, setup, type Setup } from './helpers.ts';
import { check, responseSchema, SPECS_MISSING } from './openapi.ts';

describe('HighLevel emulator: products', () => {
  let s: Setup;
  before(async () => {
    s = await setup();
  });
  after(async () => {
    await s.emulator.close();
  });

  const list = (query: string, token?: string) =>
    s.api.get(`/products/?locationId=${s.locationId}${query}`, token ? { token } : {});

  it('starts a location with no products, and lists the ones made for it, newest first, with their total', async () => {
    const empty = await list('');
    assert.equal(empty.status, 200, empty.text);
    assert.deepEqual(empty.body, { products: [], total: [{ total: 0 }] });
    const made = [];
    for (const name of ['Haircut', 'Colour treatment', 'Hair mask'])
      made.push(obj((await s.api.admin('POST', `/locations/${s.locationId}/products`, { name })).body.product));
    const other = String((await s.api.admin('POST', '/locations', { country: 'US' })).body.locationId);
    await s.api.admin('POST', `/locations/${other}/products`, { name: 'Not this location' });

    const all = await list('');
    assert.deepEqual(
      arr(all.body.products).map((p) => p.name),
      ['Hair mask', 'Colour treatment', 'Haircut'],
    );
    assert.deepEqual(all.body.total, [{ total: 3 }]);
    const first = arr(all.body.products).at(-1)!;
    assert.equal(first._id, made[0]!._id);
    assert.equal(first.productType, 'SERVICE');
    assert.equal(first.locationId, s.locationId);
  });

  it('narrows by name in any case, and pages with limit and offset', async () => {
    const hair = await list('&search=HAIR');
    assert.deepEqual(
      arr(hair.body.products).map((p) => p.name),
      ['Hair mask', 'Haircut'],
    );
    assert.deepEqual(hair.body.total, [{ total: 2 }]);
    const page = await list('&limit=1&offset=1&sortOrder=asc');
    assert.deepEqual(
      arr(page.body.products).map((p) => p.name),
      ['Colour treatment'],
    );
    assert.deepEqual(page.body.total, [{ total: 3 }]);
  });

  it('refuses an undeclared query parameter (422) and a token without products.readonly (401)', async () => {
    const undeclared = await list('&name=Haircut');
    assert.equal(undeclared.status, 422);
    assert.deepEqual(undeclared.body.message, ['property name should not exist']);
    const minted = await s.api.admin('POST', '/tokens', { locationId: s.locationId, scopes: ['contacts.readonly'] });
    const refused = await list('', String(minted.body.access_token));
    assert.equal(refused.status, 401);
    assert.equal(refused.body.message, 'The token is not authorized for this scope.');
  });

  it('answers in the shape of ListProductsResponseDto', { skip: SPECS_MISSING }, async () => {
    const problems = check((await list('')).body, responseSchema('products', 'get', '/products/', '200'));
    assert.deepEqual(problems, []);
  });
});

#!/usr/bin/env node
// npm run vendor-specs: fills .vendor-specs/ with the vendor specifications the contract suites hold the clients
// and emulators against, downloaded from their public sources at pinned commits and checked file by file against
// the SHA-256 sums below. Nothing is written unless every file matches: a changed upstream file is a new pin,
// chosen on purpose (update the commit and the sums together), never something a download slips in.
//
//   node scripts/vendor-specs.mjs [--out DIR] [--from DIR|URL]
//
// --out   where to write (default .vendor-specs/ at the repository's root, which git ignores)
// --from  a copy already laid out as the output is (highlevel/..., quickbooks/...): a folder, or an http(s) base
//         URL serving one. The same sums are checked, so a mirror or an old checkout serves as well as upstream.
// LEDGERLINK_VENDOR_SPECS_RAW_URL  the raw-file host (default https://raw.githubusercontent.com), for a mirror
//         that serves <owner>/<repo>/<commit>/<path> as it does.
//
// A machine that cannot reach GitHub (the project's development and CI machines reach only package registries;
// there this fails with ENOTFOUND and writes nothing) uses a copy instead: CI's ../shared/vendor-specs is found
// as it is, and `--from` checks any other against the same sums.
//
// The suites look for the specs in LEDGERLINK_VENDOR_SPECS, then .vendor-specs/, then ../shared/vendor-specs
// (test/support/vendorSpecs.ts); without any of them they are skipped with a message naming this command.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * Each source: a public repository at one commit, and the files taken from it as [path there, sha256]; `to`
 * maps a path there to the path under the output folder.
 */
export const SOURCES = [
  {
    name: "HighLevel's API v2 OpenAPI documents and webhook event docs (CC0 1.0)",
    repo: 'GoHighLevel/highlevel-api-docs',
    commit: '0af86a4cbd48c66a4071c7e509d1079f9f10ed17',
    to: (path) => `highlevel/${path}`,
    files: [
      ['LICENSE', 'a2010f343487d3f7618affe54f789f5487602331c0a8d03f49e9a7c547cf0499'],
      ['apps/contacts.json', 'd251defab9b0d3ae2feb393b27c071bed7e964c63826af0131bb8e888ecfd6cb'],
      ['apps/conversations.json', 'd8e08fcf4249f4f0ba190da0b46a440ffcdf18b95f11a0e2331f82a0df7d14bb'],
      ['apps/invoices.json', '3b90fc6561ae9ca4b9ff00213dbde6f6e947d34a27a8067caa113169cacbd770'],
      ['apps/locations.json', 'a91eb2f2f2a7d0346a494d9dfb2fec075338e1719730e6284d2713f318452063'],
      ['apps/oauth.json', '8410d2b9cc2872acce8a3578d6df3ab105514ea69934d89374429fab1dbc04e8'],
      ['apps/payments.json', '93b1dc8d05fa8fa87b1b3cf72d82cc3cd71b4b9846818bcb7835cc65d14a4bfa'],
      ['apps/products.json', 'ef17a2dfad950838791cfdd5416d5b71cb512919e3350903207fb3a962cbfb18'],
      ['apps/workflows.json', 'c496faeb7b77f4b1b54a48cf4f6087620642d7034e610844108297a54668bfd1'],
      ['common/common-schemas.json', '0713be7ea50c988f5eb78b35d724301c1b3b6386c819860b67bda8893a22e21e'],
      ['docs/oauth/WebhookAuthentication.md', '9e805de58046483b742fd90b6440c95d1358759f72a2873dd586868a694a1f34'],
      ['docs/webhook events/AppInstall.md', 'd22230c841891a1a05b97e208a71d5785c791ad1a303b923a7aafe3932ee988f'],
      ['docs/webhook events/AppUninstall.md', 'a8ccc006e67ede8976586cbbb8ea191c3e5afb132b46cd008cc2edc4d0dc0781'],
      ['docs/webhook events/AppointmentCreate.md', '88fe06cf840fe6abc49cc530ce95bde91de47c61fded59142ade5c734bd5689a'],
      ['docs/webhook events/AppointmentDelete.md', 'a372aac261b06e2411adfcbbda849efe0f0dbb10e0fc6b8c05ae8e989e7d7aa8'],
      ['docs/webhook events/AppointmentUpdate.md', '8e8b71cd6959a5b18daed2512d000c0f407caa796e77fae50a3be199c99c11f3'],
      ['docs/webhook events/ContactCreate.md', '4fab2a21177b5cf042eaa4a5e05b9902ff3de6d75a10b86cf9c5dc32bd394d66'],
      ['docs/webhook events/ContactDelete.md', 'f5f48c97e266e8627477ad3374f39a629f8ff2bab06824b659c6f114efc27617'],
      ['docs/webhook events/ContactDndUpdate.md', '2d902245306aaffb4ee609cc8227fe8c1cac4c0c7bbc38405fb1bbf260f94942'],
      ['docs/webhook events/ContactTagUpdate.md', '0b36b90132c9c96949d20e792cf72bf61bf6fcf0104a7faf490383def2e1cc0f'],
      ['docs/webhook events/ContactUpdate.md', '375a11ec3d3b1cae4db9049193228fa47c5d47dad5737fa864dd55651de2b78c'],
      ['docs/webhook events/InboundMessage.md', 'f67a9469c30c44a8be2ffbd9a32e3574dc9b0b1afbbd3bfeddfe993cf8af825d'],
      ['docs/webhook events/InvoiceCreate.md', '480462943c3fae41bb1db28c6a1956424779faf770e238c3f1e525471f99e28c'],
      ['docs/webhook events/InvoiceDelete.md', '278d17220def3da07d6dd696c0d4c80bceb680195d75e1c186b360062914a507'],
      ['docs/webhook events/InvoicePaid.md', 'ad731ff04887656e0109c2b55f739834a84c7415c730337ce8ed55e44aee4f1f'],
      [
        'docs/webhook events/InvoicePartiallyPaid.md',
        'f8ac2ce84d122d4d4a292fbd2b606e1180f363b8b407907ab7a1fb58f5f968ca',
      ],
      ['docs/webhook events/InvoiceSent.md', 'ba3ec3bf97e0250df59b6dfc9e9127a0613ccf364575b5ce7d1f18f1e4280cba'],
      ['docs/webhook events/InvoiceUpdate.md', 'abcd46d11de4bc86d461602a71a60ed4a4566323829e874e8821f8cf7ab79fd6'],
      ['docs/webhook events/InvoiceVoid.md', '4ea09914686573eaf6fff60d334c6058684b8f09c399b7b6b6f2099252cc5230'],
      ['docs/webhook events/LocationCreate.md', '63748ed983552c225381f240d2b6749b6db587c0e57ee28db34ac9b6ab2bb1fa'],
      ['docs/webhook events/LocationUpdate.md', 'f5b3dd7bd4c2d07ea72117d4050ea1633359f01b34cfb292d3be2808327b1918'],
      ['docs/webhook events/OrderCreate.md', '35fbc66badc689750bcb5b6ff1d96f1556e80813413b9feb882481778d2fcba3'],
      ['docs/webhook events/OrderStatusUpdate.md', '1d2d0eb89a195efc870201d9d8de2a8a90578fe457f507de626989e770b26073'],
      ['docs/webhook events/OutboundMessage.md', '37fbb1b53b556c8da36a2676213abb938046083c8a37cb507407927d81c2d63e'],
      ['docs/webhook events/PriceCreate.md', '2612bef30838a7dcb10e5f533cf8be576fdedc9a7dd5387194799087c4a8a9f2'],
      ['docs/webhook events/PriceDelete.md', '98f6446d6b9c1a59701996f965bed2bdd5908ca47a37d494ec97ca98191ea047'],
      ['docs/webhook events/PriceUpdate.md', '5a97835ad6c01d1d4dc5b8ab7df2b30a4606361e0e9d14a3ad8e4620bc87df60'],
      ['docs/webhook events/ProductCreate.md', '5af0985a575110f92a259aa51d72e563cabf8b149c990b49a6639f7be4699755'],
      ['docs/webhook events/ProductDelete.md', '0f36414a547c0d60521e4917e5e49523a3e627df7ca5e5a320bc09099be3acd5'],
      ['docs/webhook events/ProductUpdate.md', '5cd975a1caac4ca3c958385c18c18084b2b22f34f3cee37f633828c010c89703'],
    ],
  },
  {
    name: "Intuit's QuickBooks Online Accounting API v3 XSDs, from its PHP SDK (Apache-2.0)",
    repo: 'intuit/QuickBooks-V3-PHP-SDK',
    commit: '5bb480b505726d9f7b89ff0747b9acc629236a77',
    to: (path) => (path === 'LICENSE' ? 'quickbooks/LICENSE' : `quickbooks/xsd/${path.slice('src/XSD/'.length)}`),
    files: [
      ['LICENSE', '39e2ba88ec5d90b9380957c7cc4423d5fc83701756ab6d8d334ca63a16fd49d8'],
      ['src/XSD/Finance.xsd', '73f82ba1690ee95298b38c2f0b2079951ead1589039b5ca76c526e00d4e0e548'],
      ['src/XSD/IntuitBaseTypes.xsd', '4566e2122db09252edc5ce632aed3cc08178d55078935f74a80c4042dce54626'],
      ['src/XSD/IntuitNamesTypes.xsd', 'bc8948a02dd3cd53875654e54edba8f2e644b8aeb4037d1925acb057870b95cd'],
      ['src/XSD/IntuitRestServiceDef.xsd', 'ec71e69503332692368ca01af625395f86413df2f2b1b6880de695c104a5284b'],
      ['src/XSD/SalesTax.xsd', '5a81f997e100d483d4cd78475af4fa136c89daf4f009e6323677c5478c0b6d6d'],
    ],
  },
];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ATTEMPTS = 3;
const TIMEOUT_MS = 30_000;

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The URL of one file, each path segment encoded ("webhook events" has a space). */
function joinUrl(base, path) {
  return `${base.replace(/\/+$/, '')}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

async function download(url) {
  let last;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (response.status === 404) throw Object.assign(new Error(`${url}: 404 Not Found`), { final: true });
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      return Buffer.from(await response.arrayBuffer());
    } catch (error) {
      last = error;
      if (error.final) break;
      if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
  const cause = last?.cause?.code ?? last?.cause?.message;
  throw new Error(`could not download ${url}: ${last?.message ?? last}${cause ? ` (${cause})` : ''}`);
}

/** Reads one file from where --from points, or from its source repository at the pinned commit. */
function reader(from, rawBase) {
  if (from && !/^https?:\/\//.test(from)) {
    return async (_source, _path, to) => readFileSync(join(resolve(from), to));
  }
  if (from) return (_source, _path, to) => download(joinUrl(from, to));
  return (source, path) => download(joinUrl(rawBase, `${source.repo}/${source.commit}/${path}`));
}

function optionsFrom(argv) {
  const usage = 'usage: node scripts/vendor-specs.mjs [--out DIR] [--from DIR|URL]';
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { out: { type: 'string' }, from: { type: 'string' } } }));
  } catch (error) {
    throw new Error(`${error.message}\n${usage}`);
  }
  return { out: values.out ? resolve(values.out) : join(root, '.vendor-specs'), from: values.from };
}

/** Files of the output folder that are already there with the right sum. */
function alreadyThere(out) {
  return SOURCES.every((source) =>
    source.files.every(([path, sum]) => {
      const file = join(out, source.to(path));
      return existsSync(file) && sha256(readFileSync(file)) === sum;
    }),
  );
}

export async function fetchVendorSpecs({
  out,
  from,
  rawBase = process.env.LEDGERLINK_VENDOR_SPECS_RAW_URL || 'https://raw.githubusercontent.com',
  log = console.log,
}) {
  if (alreadyThere(out)) {
    log(`vendor specs: ${out} is complete and every checksum matches`);
    return;
  }
  const read = reader(from, rawBase);
  const staging = `${out}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const problems = [];
  try {
    for (const source of SOURCES) {
      log(
        `vendor specs: ${source.name}: ${from ?? `${source.repo} at ${source.commit.slice(0, 12)}`} (${source.files.length} files)`,
      );
      // Eight at a time: quick, and gentle with the host.
      for (let i = 0; i < source.files.length; i += 8) {
        await Promise.all(
          source.files.slice(i, i + 8).map(async ([path, sum]) => {
            const to = source.to(path);
            let bytes;
            try {
              bytes = await read(source, path, to);
            } catch (error) {
              problems.push(`${to}: ${error.message}`);
              return;
            }
            const got = sha256(bytes);
            if (got !== sum) {
              problems.push(`${to}: SHA-256 ${got}, expected ${sum}`);
              return;
            }
            mkdirSync(dirname(join(staging, to)), { recursive: true });
            writeFileSync(join(staging, to), bytes);
          }),
        );
      }
    }
    if (problems.length > 0) {
      throw new Error(
        `vendor specs NOT written (${problems.length} of ${SOURCES.reduce((n, s) => n + s.files.length, 0)} files failed; ${out} is unchanged):\n  ${problems.join('\n  ')}`,
      );
    }
    rmSync(out, { recursive: true, force: true });
    mkdirSync(dirname(out), { recursive: true });
    renameSync(staging, out);
    log(`vendor specs: wrote ${out}; every checksum matches`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await fetchVendorSpecs(optionsFrom(process.argv.slice(2)));
  } catch (error) {
    console.error(error.message);
    process.exitCode = 1;
  }
}

// Where the vendor specifications are (HighLevel's OpenAPI documents and webhook docs under highlevel/, Intuit's
// XSDs under quickbooks/xsd/): LEDGERLINK_VENDOR_SPECS when set, else .vendor-specs/ in the checkout (what
// `npm run vendor-specs` fills from the public sources at pinned commits), else ../shared/vendor-specs beside the
// checkout (CI's layout). They are data the emulators' generators and the contract suites read, never code.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const checkout = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The folders looked in, in order; an explicit LEDGERLINK_VENDOR_SPECS is the only one. */
export function vendorSpecCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.LEDGERLINK_VENDOR_SPECS) return [resolve(env.LEDGERLINK_VENDOR_SPECS)];
  return [join(checkout, '.vendor-specs'), resolve(checkout, '../shared/vendor-specs')];
}

export interface VendorSpecs {
  /** `part` of the first folder that has it (the first candidate's when none has: the message names them all). */
  dir: string;
  /** false when found; else why a suite that needs them is skipped, and how to get them. */
  missing: false | string;
}

/** Finds one part of the vendor specs: 'highlevel' or 'quickbooks/xsd'. */
export function findVendorSpecs(
  part: 'highlevel' | 'quickbooks/xsd',
  env: NodeJS.ProcessEnv = process.env,
): VendorSpecs {
  const candidates = vendorSpecCandidates(env).map((root) => join(root, part));
  const dir = candidates.find((c) => existsSync(c));
  if (dir) return { dir, missing: false };
  return {
    dir: candidates[0]!,
    missing: `vendor specs (${part}) not found in ${candidates.join(' or ')}: run \`npm run vendor-specs\` (or set LEDGERLINK_VENDOR_SPECS) to run this suite`,
  };
}

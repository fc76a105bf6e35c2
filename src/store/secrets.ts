// OAuth tokens are encrypted at rest with AES-256-GCM. The key comes from LEDGERLINK_SECRET_KEY (32 bytes,
// base64 or hex), or, in the embedded default, from a key file generated once with owner-only permissions.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static fromKey(key: Buffer): SecretBox {
    if (key.length !== 32) throw new Error(`the token encryption key must be 32 bytes, got ${key.length}`);
    return new SecretBox(Buffer.from(key));
  }

  /** Parses LEDGERLINK_SECRET_KEY: 64 hex characters or base64 of 32 bytes. */
  static fromText(text: string): SecretBox {
    const trimmed = text.trim();
    const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
    if (key.length !== 32) {
      throw new Error(
        'LEDGERLINK_SECRET_KEY must be 32 bytes as 64 hex characters or base64; generate one with `openssl rand -base64 32`',
      );
    }
    return new SecretBox(key);
  }

  /** Reads the key file, creating it (mode 0600) with a fresh random key the first time. */
  static fromKeyFile(path: string): SecretBox {
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    }
    chmodSync(path, 0o600);
    return SecretBox.fromText(readFileSync(path, 'utf8'));
  }

  /** version byte | iv | tag | ciphertext; the associated data binds a ciphertext to its row and column. */
  seal(plaintext: string, associatedData: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
  }

  open(sealed: Uint8Array, associatedData: string): string {
    const data = Buffer.from(sealed);
    if (data[0] !== VERSION) throw new Error('unknown token encryption format');
    const iv = data.subarray(1, 1 + IV_BYTES);
    const tag = data.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(data.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}

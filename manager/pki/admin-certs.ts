// Admin client certificates the manager issued, kept in the state dir (admin-certs.json; serials and dates are not
// secret) so that each can be listed and revoked by serial. Revocation itself is the RevocationList's: checked at
// every TLS handshake and on every request.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurable } from '../cluster/files.js';

export const ADMIN_CERTS_FILE = 'admin-certs.json';
/** Default validity of an admin certificate (`manager cert admin --expiry`): short, since it opens everything. */
export const ADMIN_CERT_DEFAULT_MS = 30 * 86400_000;
export const ADMIN_CERT_MAX_MS = 365 * 86400_000;
export const ADMIN_CERT_MIN_MS = 60_000;

export interface AdminCertEntry {
  Serial: string; // upper-case hex, as node:tls reports it
  ID: string; // the certificate's CN
  Subject: string;
  NotBefore: string;
  NotAfter: string;
  IssuedAt: string;
}

function parseEntries(path: string, v: unknown): AdminCertEntry[] {
  if (!Array.isArray(v)) throw new Error(`${path}: expected a JSON array of admin certificates`);
  return v.map((e: unknown, i) => {
    const o = (e ?? {}) as Record<string, unknown>;
    const s = (k: string): string => {
      if (typeof o[k] !== 'string') throw new Error(`${path}: entry ${i} has no string ${k}`);
      return o[k];
    };
    return { Serial: s('Serial').toUpperCase(), ID: s('ID'), Subject: s('Subject'), NotBefore: s('NotBefore'), NotAfter: s('NotAfter'), IssuedAt: s('IssuedAt') };
  });
}

export class AdminCertRegistry {
  private readonly path: string;
  private entries: AdminCertEntry[];

  constructor(stateDir: string) {
    this.path = join(stateDir, ADMIN_CERTS_FILE);
    this.entries = existsSync(this.path) ? parseEntries(this.path, JSON.parse(readFileSync(this.path, 'utf8'))) : [];
  }

  /** Recorded durably before the certificate is handed out: nothing issued escapes the list. */
  record(e: AdminCertEntry): void {
    const next = [...this.entries, { ...e, Serial: e.Serial.toUpperCase() }];
    writeFileDurable(this.path, JSON.stringify(next, null, 2) + '\n');
    this.entries = next;
  }

  find(serial: string): AdminCertEntry | undefined {
    const s = serial.toUpperCase();
    return this.entries.find((e) => e.Serial === s);
  }

  list(): AdminCertEntry[] {
    return [...this.entries];
  }
}

// Revoked certificate serials, kept in the state dir (serials are not secret) and checked on every TLS connection.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurable } from '../cluster/files.js';

export const REVOKED_FILE = 'revoked.json';

export class RevocationList {
  private readonly serials: Set<string>;
  private readonly path: string;

  constructor(stateDir: string) {
    this.path = join(stateDir, REVOKED_FILE);
    const list: unknown = existsSync(this.path) ? JSON.parse(readFileSync(this.path, 'utf8')) : [];
    if (!Array.isArray(list)) throw new Error(`${this.path}: expected a JSON array of serial numbers`);
    this.serials = new Set(list.map((s) => String(s).toUpperCase()));
  }

  isRevoked(serial: string): boolean {
    return this.serials.has(serial.toUpperCase());
  }

  /** Revokes at once: in memory first, then on disk. */
  revoke(serial: string): void {
    this.serials.add(serial.toUpperCase());
    writeFileDurable(this.path, JSON.stringify([...this.serials].sort()) + '\n');
  }

  list(): string[] {
    return [...this.serials].sort();
  }
}

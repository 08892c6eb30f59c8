// Registry credentials as Docker's clients send them (docker-swarm-wave2.md §4.3); never logged.
import type { RegistryAuth } from './skopeo.js';

/**
 * X-Registry-Auth (and a service's PullOptions.RegistryAuth): base64url (padded) JSON of moby's AuthConfig.
 * Undefined for a missing or invalid value: GET /distribution ignores an invalid header, as Docker does.
 */
export function decodeRegistryAuth(header: string | string[] | undefined): RegistryAuth | undefined {
  if (typeof header !== 'string' || header === '') return undefined;
  try {
    const doc: unknown = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
    const o = doc as Record<string, unknown>;
    const auth: RegistryAuth = {};
    for (const k of ['username', 'password', 'identitytoken', 'serveraddress'] as const) {
      if (typeof o[k] === 'string' && o[k] !== '') auth[k] = o[k];
    }
    // "auth" is base64("user:password"), config.json's form; explicit fields win.
    if (auth.username === undefined && typeof o.auth === 'string' && o.auth !== '') {
      const plain = Buffer.from(o.auth, 'base64').toString('utf8');
      const colon = plain.indexOf(':');
      if (colon > 0) {
        auth.username = plain.slice(0, colon);
        auth.password = plain.slice(colon + 1);
      }
    }
    return Object.keys(auth).length > 0 ? auth : undefined;
  } catch {
    return undefined;
  }
}

// Which registry endpoints a pull tries, as dockerd does (graphdriver path): loopback registries and those named by
// --insecure-registry over plain HTTP, and --registry-mirror endpoints first for Docker Hub images only.
import { isIP } from 'node:net';
import { DOCKER_HUB, domainHost, type ImageRef } from './image-ref.js';

export interface RegistryRules {
  /** host[:port] entries and CIDRs, as given to --insecure-registry (scheme stripped). */
  insecure: string[];
  /** Mirror base URLs, validated, with a trailing '/'. */
  mirrors: URL[];
}

/** One place to ask: host[:port] to talk to, whether TLS is verified (false: HTTP allowed), the repository path. */
export interface RegistryEndpoint {
  /** host[:port] as skopeo's docker:// transport takes it ("docker.io" for the Hub). */
  host: string;
  path: string;
  tlsVerify: boolean;
  mirror: boolean;
}

export class RegistryRuleError extends Error {}

export const NO_RULES: RegistryRules = { insecure: [], mirrors: [] };

/** A --insecure-registry value: http(s):// stripped as dockerd does (it warns), any other scheme refused. */
export function parseInsecureRegistry(value: string): string {
  let v = value;
  for (const scheme of ['http://', 'https://']) if (v.startsWith(scheme)) v = v.slice(scheme.length);
  if (v.includes('://')) throw new RegistryRuleError(`insecure registry ${value} should not contain '://'`);
  if (v === '') throw new RegistryRuleError(`insecure registry ${value} is empty`);
  return v.replace(/\/+$/, '');
}

/** A --registry-mirror value, with dockerd's checks and texts; the URL gets a trailing '/'. */
export function parseMirror(value: string): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new RegistryRuleError(`invalid mirror: unsupported scheme "" in "${value}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RegistryRuleError(`invalid mirror: unsupported scheme "${u.protocol.replace(/:$/, '')}" in "${value}"`);
  if (u.search !== '' || u.hash !== '') throw new RegistryRuleError(`invalid mirror: query or fragment at end of the URI "${value}"`);
  if (u.username !== '' || u.password !== '') throw new RegistryRuleError(`invalid mirror: username/password not allowed in URI "${value}"`);
  // skopeo's docker:// transport names a host, not a base path: a mirror under a path cannot be reached.
  if (u.pathname !== '/' && u.pathname !== '') throw new RegistryRuleError(`invalid mirror: a path is not supported by runsecrets in "${value}"`);
  return u;
}

export function makeRules(insecure: string[], mirrors: string[]): RegistryRules {
  return { insecure: insecure.map(parseInsecureRegistry), mirrors: mirrors.map(parseMirror) };
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, p) => (acc << 8) + Number(p), 0) >>> 0;
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  if (base === undefined || bits === undefined || isIP(base) !== 4 || isIP(ip) !== 4) return false;
  const n = Number(bits);
  if (!Number.isInteger(n) || n < 0 || n > 32) return false;
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  return (ipv4ToInt(ip) & mask) === (ipv4ToInt(base) & mask);
}

function isLoopback(host: string): boolean {
  // dockerd always adds 127.0.0.0/8 and resolves names (so "localhost" counts); ::1 as the brief of issue 10 asks.
  return host === 'localhost' || host === '::1' || inCidr(host, '127.0.0.0/8');
}

/** True when a registry at host[:port] is spoken to without TLS verification (plain HTTP allowed). */
export function isInsecureRegistry(domain: string, rules: RegistryRules): boolean {
  const host = domainHost(domain);
  if (isLoopback(host)) return true;
  return rules.insecure.some((e) => (e.includes('/') ? inCidr(host, e) : e === domain || e === host));
}

/** The endpoints to try in order: mirrors (Docker Hub images only), then the image's own registry. */
export function pullEndpoints(ref: ImageRef, rules: RegistryRules): RegistryEndpoint[] {
  const out: RegistryEndpoint[] = [];
  if (ref.domain === DOCKER_HUB) {
    for (const m of rules.mirrors) {
      out.push({ host: m.host, path: ref.path, tlsVerify: m.protocol === 'https:' && !isInsecureRegistry(m.host, rules), mirror: true });
    }
  }
  out.push({ host: ref.domain, path: ref.path, tlsVerify: !isInsecureRegistry(ref.domain, rules), mirror: false });
  return out;
}

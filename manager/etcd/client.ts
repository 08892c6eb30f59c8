// An etcd client for the manager: the given endpoints (its own member first), mutual TLS with the member's
// certificate (the only kind etcd admits: pki/etcd-certs.ts).
import { readFileSync } from 'node:fs';
import { Etcd3, isRecoverableError } from 'etcd3';
import { ConsecutiveBreaker, circuitBreaker, handleWhen, retry } from 'cockatiel';
import type { EtcdTlsFiles } from './member.js';

export interface EtcdClientOptions {
  endpoints: string[];
  tls: EtcdTlsFiles;
  /** Deadline of each unary call (ms); a dead endpoint is then left for another. */
  callTimeoutMs?: number;
}

export function etcdClient(o: EtcdClientOptions): Etcd3 {
  const timeout = o.callTimeoutMs ?? 5000;
  return new Etcd3({
    hosts: o.endpoints,
    credentials: { rootCertificate: readFileSync(o.tls.caFile), certChain: readFileSync(o.tls.certFile), privateKey: readFileSync(o.tls.keyFile) },
    dialTimeout: timeout,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    // etcd3's default leaves an endpoint alone for 5 s after 3 failures: a restarted member (or the only endpoint)
    // would be unused that long. Half a second; and no retry of calls etcd refused for a reason of its own.
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(3) }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: Math.max(0, o.endpoints.length - 1) }),
    },
  });
}

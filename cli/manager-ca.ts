// `runsecrets manager ca [--rotate] [-d] [-q]`: docker swarm ca's words and flow. Without --rotate it prints the
// trusted root. With it: GET /swarm, CAConfig.ForceRotate + 1, POST /swarm/update; then (unless -d) the progress
// docker shows, from GET /swarm and GET /nodes every 200 ms (nodes whose certificate's issuer is the cluster's, then
// nodes whose trusted root is the cluster's, counted only once the rotation is done), and finally the new root.
import { createHash } from 'node:crypto';
import { Command } from 'commander';
import { adminRequest, type AdminTarget } from './manager-admin.js';
import { action, addAdminConnectOptions, adminTarget, type AdminConnectOptions } from './manager-cli.js';

interface TlsInfo {
  TrustRoot?: string;
  CertIssuerSubject?: string;
  CertIssuerPublicKey?: string;
}
interface SwarmJson {
  Version: { Index: number };
  Spec: { CAConfig: { ForceRotate?: number } & Record<string, unknown> } & Record<string, unknown>;
  TLSInfo: TlsInfo;
  RootRotationInProgress: boolean;
}
interface NodeJson {
  Description: { TLSInfo?: TlsInfo };
}

const POLL_MS = 200;

/** Docker's counts (cli/command/swarm/progress/root_rotation.go updateProgress): done when both reach every node. */
export function rotationProgress(s: SwarmJson, nodes: NodeJson[]): { digest: string; certs: number; roots: number; total: number; done: boolean } {
  const want = s.TLSInfo;
  let certs = 0;
  let roots = 0;
  for (const n of nodes) {
    const i = n.Description.TLSInfo ?? {};
    if (i.CertIssuerPublicKey === want.CertIssuerPublicKey && i.CertIssuerSubject === want.CertIssuerSubject) certs++;
    if (i.TrustRoot === want.TrustRoot) roots++;
  }
  const total = nodes.length;
  const digest = 'sha256:' + createHash('sha256').update(want.TrustRoot ?? '').digest('hex');
  // Roots are shown as 0 until every certificate is rotated and the rotation is over, as docker does.
  if (certs !== total || s.RootRotationInProgress) return { digest, certs, roots: 0, total, done: false };
  return { digest, certs, roots, total, done: roots === total };
}

function progressLines(p: ReturnType<typeof rotationProgress>): string[] {
  return [`desired root digest: ${p.digest}`, `  rotated TLS certificates: ${p.certs}/${p.total} nodes`, `  rotated CA certificates:  ${p.roots}/${p.total} nodes`];
}

async function follow(to: AdminTarget, quiet: boolean): Promise<SwarmJson> {
  const tty = process.stdout.isTTY && !quiet;
  let shown: string[] = [];
  for (;;) {
    const s = (await adminRequest(to, 'GET', '/swarm')).body as SwarmJson;
    const nodes = (await adminRequest(to, 'GET', '/nodes')).body as NodeJson[];
    const p = rotationProgress(s, nodes);
    const lines = progressLines(p);
    if (!quiet) {
      if (tty) process.stdout.write((shown.length > 0 ? `\x1b[${shown.length}A` : '') + lines.map((l) => `\x1b[2K${l}\n`).join(''));
      else for (const [i, l] of lines.entries()) if (l !== shown[i]) process.stdout.write(l + '\n'); // a pipe: changes only
      shown = lines;
    }
    if (p.done) return s;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export function caCommand(): Command {
  return addAdminConnectOptions(new Command('ca'))
    .description('Display and rotate the root CA (docker swarm ca)')
    .option('--rotate', 'rotate the swarm CA: nodes move to certificates under a new root, the old root is then dropped', false)
    .option('-d, --detach', 'exit immediately instead of waiting for the root rotation to converge', false)
    .option('-q, --quiet', 'suppress progress output', false)
    .action(
      action(async (o: { rotate: boolean; detach: boolean; quiet: boolean } & AdminConnectOptions) => {
        const to = adminTarget(o);
        let s = (await adminRequest(to, 'GET', '/swarm')).body as SwarmJson;
        if (o.rotate) {
          const spec = structuredClone(s.Spec);
          spec.CAConfig.ForceRotate = (spec.CAConfig.ForceRotate ?? 0) + 1;
          await adminRequest(to, 'POST', `/swarm/update?version=${s.Version.Index}`, spec);
          s = o.detach ? ((await adminRequest(to, 'GET', '/swarm')).body as SwarmJson) : await follow(to, o.quiet);
        }
        const root = (s.TLSInfo.TrustRoot ?? '').trim();
        process.stdout.write(root === '' ? 'No CA information available\n' : root + '\n');
      }),
    );
}

// GET|HEAD /_ping and GET /version: what the docker CLI asks first (API version negotiation).
import { arch, release } from 'node:os';
import { ENGINE_API_VERSION, ENGINE_MIN_API_VERSION, sendJson } from '../http.js';
import type { EngineRouter } from '../router.js';

export function registerSystemRoutes(router: EngineRouter, o: { swarmState: () => string }): void {
  router.add('GET', '/_ping', ({ req, res }) => {
    res.setHeader('Swarm', o.swarmState());
    res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
    res.setHeader('Pragma', 'no-cache');
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 0 });
      res.end();
    } else {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 2 });
      res.end('OK');
    }
  });
  router.add('GET', '/version', ({ res }) => {
    const goArch = arch() === 'x64' ? 'amd64' : arch();
    sendJson(res, 200, {
      Platform: { Name: 'runsecrets agent' },
      Components: [{ Name: 'Engine', Version: '0.1.0', Details: { ApiVersion: ENGINE_API_VERSION, MinAPIVersion: ENGINE_MIN_API_VERSION, Os: 'linux', Arch: goArch, KernelVersion: release() } }],
      Version: '0.1.0',
      ApiVersion: ENGINE_API_VERSION,
      MinAPIVersion: ENGINE_MIN_API_VERSION,
      Os: 'linux',
      Arch: goArch,
      KernelVersion: release(),
      GoVersion: `node${process.versions.node}`,
      GitCommit: '',
      BuildTime: '',
    });
  });
}

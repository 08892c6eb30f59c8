// POST /runsecrets/backup: a consistent, encrypted backup of the state (manager/cluster/backup.ts), answered as
// application/octet-stream. Only over the Unix socket: it carries the sealed keys, which no remote caller needs.
import type { Router } from './router.js';
import { ApiError } from './http.js';

export interface BackupControl {
  backup(): { bytes: Buffer; index: number };
}

export function registerBackupRoute(router: Router, ctl: BackupControl): void {
  router.add('POST', '/runsecrets/backup', (ctx) => {
    if (ctx.peer.transport !== 'unix') throw new ApiError(403, "permission denied: backups are taken over the manager's Unix socket only");
    const { bytes, index } = ctl.backup();
    ctx.log.info({ index, bytes: bytes.length }, 'backup taken');
    ctx.res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length });
    ctx.res.end(bytes);
  });
}

// GET /runsecrets/advertise: the advertise address, what this manager listens on, and a warning when agents told to
// join the one would not reach the other. POST /runsecrets/advertise {"AdvertiseAddr": "HOST:PORT"} changes it
// (`manager update --advertise-addr`).
import { ApiError, readJson, sendJson } from './http.js';
import { decodeObject, decodeString, field } from './decode.js';
import type { Router } from './router.js';

export interface AdvertiseInfo {
  AdvertiseAddr: string;
  /** HOST:PORT of the TLS listener, null without one. */
  Listen: string | null;
  Warning: string | null;
}

export interface AdvertiseControl {
  info(): AdvertiseInfo;
  set(addr: string): void;
}

export function registerAdvertiseRoutes(router: Router, ctl: AdvertiseControl): void {
  router.add('GET', '/runsecrets/advertise', (ctx) => sendJson(ctx.res, 200, ctl.info()));
  router.add('POST', '/runsecrets/advertise', async (ctx) => {
    const body = decodeObject(await readJson(ctx.req, 4096), 'AdvertiseRequest') ?? {};
    const addr = decodeString(field(body, 'AdvertiseAddr'), 'AdvertiseRequest.AdvertiseAddr') ?? '';
    if (addr === '') throw new ApiError(400, 'AdvertiseAddr must be given as HOST:PORT');
    try {
      ctl.set(addr);
    } catch (err) {
      throw new ApiError(400, (err as Error).message);
    }
    const info = ctl.info();
    ctx.log.info({ advertiseAddr: info.AdvertiseAddr }, 'advertise address changed');
    if (info.Warning) ctx.log.warn({ advertiseAddr: info.AdvertiseAddr, listen: info.Listen }, info.Warning);
    sendJson(ctx.res, 200, info);
  });
}

// The agent's end of the session tunnel: each stream the manager opens is one connection to this node's Engine
// API, served in-process.
import type { CertManagerMessage, ManagerMessage } from '../../shared/protocol.js';
import { TunnelMux } from '../../shared/tunnel.js';
import type { AgentMessage } from '../../shared/protocol.js';
import type { EngineApi } from './server.js';

export type TunnelMessage = Exclude<ManagerMessage, { type: 'welcome' | 'heartbeat-ack' | 'heartbeat-period' | 'assign' } | CertManagerMessage>;

export class TunnelEndpoint {
  private readonly mux: TunnelMux;

  constructor(
    private readonly api: EngineApi,
    send: (m: AgentMessage) => boolean,
  ) {
    this.mux = new TunnelMux({ send });
  }

  onMessage(m: TunnelMessage): void {
    if (m.type === 'stream-open') {
      const s = this.mux.accept(m.stream);
      if (s) this.api.accept(s);
    } else this.mux.receive(m);
  }

  /** The session is gone: its streams end. */
  reset(): void {
    this.mux.closeAll('the session with the manager closed');
  }
}

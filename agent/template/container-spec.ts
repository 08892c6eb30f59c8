// Swarm's other template mechanism (swarmkit template/expand.go ExpandContainerSpec): a task's Env values and
// Hostname are templates over the task's context, expanded on the agent before the task starts. Only the context
// and `join` are available (no secret, config or env), with the node's description (.Node.Hostname works here in
// Docker too). Labels, Command and Args are not expanded, as in Docker. These fields are not secret: strings.
import type { TaskAssignment } from '../../shared/protocol.js';
import { compile, execute } from './exec.js';
import { quote } from './quote.js';
import { JOIN, payloadContext, type TemplateNode } from './payload.js';

/** An expansion failure, with Docker's Err text (`expanding env failed: expanding env "K=V": template: ...`). */
export class ContainerSpecExpandError extends Error {
  override name = 'ContainerSpecExpandError';
}

const FUNCS = new Map([['join', JOIN]]);

function expand(s: string, a: TaskAssignment, node: TemplateNode): string {
  if (!s.includes('{{')) return s; // no action: Go's result is the text itself
  return execute(compile('expansion', Buffer.from(s, 'utf8'), FUNCS), payloadContext(a, node, '*template.Context')).toString('utf8');
}

const why = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The assignment with its Env values and Hostname expanded (the original is not changed). */
export function expandContainerSpec(a: TaskAssignment, node: TemplateNode): TaskAssignment {
  const out: TaskAssignment = { ...a };
  if (a.env) {
    out.env = a.env.map((e) => {
      const eq = e.indexOf('=');
      if (eq < 0) return e; // entries without '=' are left alone
      try {
        return `${e.slice(0, eq)}=${expand(e.slice(eq + 1), a, node)}`;
      } catch (err) {
        throw new ContainerSpecExpandError(`expanding env failed: expanding env ${quote(e)}: ${why(err)}`);
      }
    });
  }
  if (a.hostname !== undefined) {
    try {
      out.hostname = expand(a.hostname, a, node);
    } catch (err) {
      throw new ContainerSpecExpandError(`expanding hostname failed: ${why(err)}`);
    }
  }
  return out;
}

// Templated secrets and configs (`--template-driver golang`), rendered on the agent per task, as swarmkit's
// template/{context,expand,getter}.go do: the context (.Service, .Node, .Task), the functions secret, config, env
// and join, Go's text/template with missingkey=error under the name "expansion", and Docker's error texts.
//
// Better than Docker: swarmkit's executor passes no node description to payload templates, so .Node.Hostname and
// .Node.Platform.* render empty there; here they are filled with this node's (docs/templates.md).
//
// Secret bytes: the template's own text stays a Buffer (lexer.ts), `secret` hands out the cache's Buffer without a
// copy, and the result is one Buffer of our own (exec.ts); none of them becomes a string.
import { containerNameOf } from '../../shared/container-id.js';
import type { FileRef, TaskAssignment } from '../../shared/protocol.js';
import { compile, execute } from './exec.js';
import { stringArg, type TemplateFunc } from './funcs.js';
import { GoBytes, GoMap, GoStruct, type Value } from './values.js';

/** What the template sees of this node: Swarm's NodeDescription (Hostname and Platform). */
export interface TemplateNode {
  id: string;
  hostname: string;
  os: string;
  architecture: string;
}

/** This node's platform as Docker's node description gives it (uname's machine names: x86_64, aarch64). */
export function hostPlatform(): { os: string; architecture: string } {
  const arch: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', ia32: 'i386', s390x: 's390x', ppc64: 'ppc64le', riscv64: 'riscv64' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

/** The object data a task may reach: its own references' bytes (the cache's Buffers, not copies). */
export type ObjectLookup = (kind: 'secret' | 'config', id: string) => Buffer | undefined;

const fields = (entries: Array<[string, Value]>): Map<string, Value> => new Map(entries);

/** swarmkit's template.Context for a task, with Go's type names (execution errors print them): payload templates
 * run on a *template.PayloadContext, ContainerSpec fields on a *template.Context. */
export function payloadContext(a: TaskAssignment, node: TemplateNode, type = '*template.PayloadContext'): GoStruct {
  const labels = new GoMap('map[string]string', new Map(Object.entries(a.serviceLabels ?? {})));
  return new GoStruct(type, fields([
    ['Service', new GoStruct('struct { ID string; Name string; Labels map[string]string }', fields([['ID', a.serviceId], ['Name', a.serviceName], ['Labels', labels]]))],
    ['Node', new GoStruct('struct { ID string; Hostname string; Platform template.Platform }', fields([
      ['ID', node.id],
      ['Hostname', node.hostname],
      ['Platform', new GoStruct('template.Platform', fields([['Architecture', node.architecture], ['OS', node.os]]))],
    ]))],
    ['Task', new GoStruct('struct { ID string; Name string; Slot string }', fields([
      ['ID', a.id],
      ['Name', containerNameOf({ serviceName: a.serviceName, slot: a.slot, nodeId: node.id, id: a.id })],
      // A string, as swarmkit's: the slot, or the node ID for a global task (slot 0).
      ['Slot', a.slot > 0 ? String(a.slot) : node.id],
    ]))],
  ]));
}

/** swarmkit's join: the first argument is the separator. */
export const JOIN: TemplateFunc = { params: 1, variadic: true, strings: true, call: (x) => x.slice(1).map((s) => stringArg(s, 'join')).join(stringArg(x[0]!, 'join')) };

/** The functions of a payload template: secret and config by target among the task's own references, env from the
 * task's ContainerSpec.Env, join. */
function payloadFuncs(a: TaskAssignment, lookup: ObjectLookup): Map<string, TemplateFunc> {
  const byTarget = (kind: 'secret' | 'config', target: string): GoBytes => {
    const ref = a.files.find((f: FileRef) => f.kind === kind && f.target === target);
    if (!ref) throw new Error(`${kind} target ${target} not found`);
    const data = lookup(kind, ref.id);
    if (!data) throw new Error(`${kind}s unavailable`);
    return new GoBytes(data, kind === 'secret');
  };
  return new Map<string, TemplateFunc>([
    ['secret', { params: 1, strings: true, call: (x) => byTarget('secret', stringArg(x[0]!, 'secret')) }],
    ['config', { params: 1, strings: true, call: (x) => byTarget('config', stringArg(x[0]!, 'config')) }],
    ['env', {
      params: 1,
      strings: true,
      call: (x) => {
        const name = stringArg(x[0]!, 'env');
        for (const e of a.env ?? []) {
          const eq = e.indexOf('=');
          if (eq >= 0 && e.slice(0, eq) === name) return e.slice(eq + 1);
        }
        return '';
      },
    }],
    ['join', JOIN],
  ]);
}

/** A rendering failure, with Docker's text as a task's Err shows it. */
export class TemplateExpandError extends Error {
  override name = 'TemplateExpandError';
}

/**
 * The bytes a task gets for one templated object: a Buffer of our own (the caller owns it and wipes it). Throws a
 * TemplateExpandError with Docker's Err text (`starting container failed: unable to get secret from secret store:
 * failed to expand templated secret <id>: template: expansion:...`).
 */
export function expandObject(ref: FileRef, data: Buffer, driver: string, a: TaskAssignment, node: TemplateNode, lookup: ObjectLookup): Buffer {
  try {
    if (driver !== 'golang') throw new Error('unrecognized template type');
    return execute(compile('expansion', data, payloadFuncs(a, lookup)), payloadContext(a, node));
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new TemplateExpandError(`starting container failed: unable to get ${ref.kind} from ${ref.kind} store: failed to expand templated ${ref.kind} ${ref.id}: ${why}`);
  }
}

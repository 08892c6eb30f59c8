// Placement constraints, parsed and matched as swarmkit's manager/constraint does: `key==value` or `key!=value`;
// keys node.id, node.hostname, node.role, node.platform.os|arch, node.labels.KEY (set by managers: trusted),
// engine.labels.KEY (what the node said about itself when joining: untrusted, never for placement that matters to
// security); values compared case-insensitively; label keys case-sensitively; an unknown key matches no node.

export interface Constraint {
  key: string;
  op: '==' | '!=';
  value: string;
}

const KEY = /^[a-z_][a-z0-9\-_.]+$/i;
const VALUE = /^[a-z0-9:\-_\s.*()?+[\]\\^$|/]+$/i;
const OPERATORS = ['==', '!='] as const;

/** Throws swarmkit's message for a malformed expression. */
export function parseConstraints(exprs: readonly string[]): Constraint[] {
  return exprs.map((e) => {
    for (const op of OPERATORS) {
      const i = e.indexOf(op);
      if (i < 0) continue;
      const key = e.slice(0, i).trim();
      const value = e.slice(i + op.length).trim();
      if (!KEY.test(key)) throw new Error(`key '${key}' is invalid`);
      if (!VALUE.test(value)) throw new Error(`value '${value}' is invalid`);
      return { key, op, value };
    }
    throw new Error(`constraint expects one operator from ${OPERATORS.join(', ')}`);
  });
}

export interface NodeFacts {
  id: string;
  hostname: string;
  role: string;
  os: string;
  arch: string;
  /** Spec.Labels: set by managers only. */
  labels: Record<string, string>;
  /** Description.Engine.Labels: reported by the node. */
  engineLabels: Record<string, string>;
}

const LABEL_PREFIX = 'node.labels.';
const ENGINE_LABEL_PREFIX = 'engine.labels.';

function matchOne(c: Constraint, what: string): boolean {
  const eq = c.value.toLowerCase() === what.toLowerCase();
  return c.op === '==' ? eq : !eq;
}

/** A label's value, '' when missing (never an inherited property such as "constructor"). */
function own(labels: Record<string, string>, key: string): string {
  return Object.prototype.hasOwnProperty.call(labels, key) ? (labels[key] ?? '') : '';
}

export function nodeMatches(constraints: readonly Constraint[], n: NodeFacts): boolean {
  for (const c of constraints) {
    const k = c.key.toLowerCase();
    let what: string;
    if (k === 'node.id') what = n.id;
    else if (k === 'node.hostname') what = n.hostname;
    else if (k === 'node.role') what = n.role;
    else if (k === 'node.platform.os') what = n.os;
    else if (k === 'node.platform.arch') what = n.arch;
    else if (c.key.length > LABEL_PREFIX.length && k.startsWith(LABEL_PREFIX)) what = own(n.labels, c.key.slice(LABEL_PREFIX.length));
    else if (c.key.length > ENGINE_LABEL_PREFIX.length && k.startsWith(ENGINE_LABEL_PREFIX)) what = own(n.engineLabels, c.key.slice(ENGINE_LABEL_PREFIX.length));
    else return false;
    if (!matchOne(c, what)) return false;
  }
  return true;
}

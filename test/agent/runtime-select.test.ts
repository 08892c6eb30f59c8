// The runtime chosen by `agent run --runtime` (agent/runtime/select.ts).
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createLogger } from '../../shared/log.js';
import { createRuntime, defaultRuntimeName, findRunc, isRuntimeName } from '../../agent/runtime/select.js';
import { ProcessRuntime } from '../../agent/runtime/process.js';

const log = createLogger('test', 'silent');

t.test('names, runc lookup, the process runtime', async (t) => {
  t.ok(isRuntimeName('oci') && isRuntimeName('process'));
  t.notOk(isRuntimeName('runc'));
  const dir = mkdtempSync(join(tmpdir(), 'rs-select-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal(findRunc(dir), null, 'no runc in an empty folder');
  writeFileSync(join(dir, 'runc'), '#!/bin/sh\n', { mode: 0o755 });
  t.equal(findRunc(`/nonexistent:${dir}`), join(dir, 'runc'), 'found on the given PATH');
  const p = createRuntime({ name: 'process', stateDir: dir, log, hiddenPaths: [] });
  t.ok(p instanceof ProcessRuntime);
  t.equal(p.name, 'process');
  if (defaultRuntimeName() === 'process') {
    // Until the OCI runtime is built in, asking for it fails at start with what to do instead.
    t.throws(() => createRuntime({ name: 'oci', stateDir: dir, log, hiddenPaths: [] }), /--runtime process/);
  } else t.equal(createRuntime({ name: 'oci', stateDir: dir, log, hiddenPaths: [] }).name, 'oci');
});

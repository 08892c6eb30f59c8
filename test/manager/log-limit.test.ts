// The log rate limiter: at most N lines of a kind a window, and the first line after says how many were left out.
import t from 'tap';
import { LogLimiter } from '../../shared/log-limit.js';

t.test('limits a kind per window and reports what it left out', async (t) => {
  const l = new LogLimiter(3, 1000);
  t.same([0, 1, 2].map(() => l.allow('a', 0)), [{ suppressed: 0 }, { suppressed: 0 }, { suppressed: 0 }], 'first 3 pass');
  t.equal(l.allow('a', 10), null, 'the 4th in the window is left out');
  t.equal(l.allow('a', 999), null, 'and the 5th');
  t.same(l.allow('b', 999), { suppressed: 0 }, 'another kind has its own budget');
  t.same(l.allow('a', 1000), { suppressed: 2 }, 'next window: passes, saying 2 were left out');
  t.same(l.allow('a', 1001), { suppressed: 0 }, 'counted once');
});

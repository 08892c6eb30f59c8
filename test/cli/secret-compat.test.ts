// `runsecrets secret …` and the stock `docker secret …` against one real manager: same output, errors and codes.
import t from 'tap';
import { compatSuite } from './compat-suite.js';

// About 170 CLI runs (half of them node processes): more than the suite's default 120 s on a busy machine.
t.setTimeout(300_000);

compatSuite(t, 'secret');

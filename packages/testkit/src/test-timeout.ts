// A time limit on every uvu test and hook, which uvu lacks: a test that can only fail by
// hanging (an attach that waits for output that never comes) would otherwise hang its
// whole suite. Loading this module patches uvu's `test` and `suite` so that each handler
// they register runs under a limit. When the limit passes, that test fails with
// `timed out after <ms> ms: <suite> > <test>` and the suite carries on.
//
// It is loaded as a uvu preload (`uvu -r tsx/cjs -r @berth/testkit/timeout test`, as
// scripts/unit-suites.js and every package's `npm test` do) rather than imported by each
// test file: then no test file can forget it, and core's tests, which may import no
// other berth package, get it too. A file imports it only to raise a limit.
/** The limit of a unit test or hook unless raised: unit tests take milliseconds. */
export const DEFAULT_TEST_TIMEOUT_MS = 5000;

type Handler = (context: never) => unknown;
type Registrar = ((name: string, handler: Handler) => void) & Record<string, unknown>;

const LIMIT = Symbol.for('berth.test-timeout');
const PATCHED = Symbol.for('berth.test-timeout.patched');

/**
 * The process-wide default: `BERTH_TEST_TIMEOUT_MS` (say when a debugger sits on a
 * breakpoint; `0` turns every limit off), else DEFAULT_TEST_TIMEOUT_MS.
 */
function envLimit(): number | undefined {
  const raw = process.env.BERTH_TEST_TIMEOUT_MS;
  if (raw === undefined || raw === '') return undefined;
  const ms = Number(raw);
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`BERTH_TEST_TIMEOUT_MS must be a number of milliseconds, got "${raw}"`);
  return ms;
}

/**
 * Give one test or hook a limit of its own, for a test that legitimately needs more:
 * `test('imports a 1 GB layer', withTimeout(30_000, async () => { ... }))`.
 */
export function withTimeout<F extends (...args: never[]) => unknown>(ms: number, handler: F): F {
  Object.defineProperty(handler, LIMIT, { value: ms, configurable: true });
  return handler;
}

/**
 * Set the limit of every test and hook registered on `test` (a `suite(...)`, or uvu's
 * default `test` for the rest of this file) from now until its `run()`:
 * `suiteTimeout(test, 20_000)` at the top of a file of slow tests.
 */
export function suiteTimeout(test: object, ms: number): void {
  Object.defineProperty(test, LIMIT, { value: ms, configurable: true, writable: true });
}

let timedOut = 0;

/** The file uvu is loading, whose tests are being registered: what names an unnamed suite. */
function currentFile(): string {
  const queue = (globalThis as { UVU_QUEUE?: unknown[][] }).UVU_QUEUE;
  const index = (globalThis as { UVU_INDEX?: number }).UVU_INDEX ?? 0;
  const name = queue?.[index]?.[0];
  return typeof name === 'string' ? name : '(file)';
}

function limited(handler: Handler, ms: number, label: string, isHook: boolean): Handler {
  if (ms === 0) return handler;
  // Where the test was registered, for the stack uvu prints under the failure: the
  // caller of test()/suite() is the fourth frame. Four frames captured, and formatted
  // (source-mapped, the costly part) only if the test times out.
  const depth = Error.stackTraceLimit;
  Error.stackTraceLimit = 4;
  const registered = new Error();
  Error.stackTraceLimit = depth;
  return async (context: never) => {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut += 1;
        const err = new Error(`timed out after ${ms} ms: ${label}`);
        err.stack = `${err.message}\n${registered.stack?.split('\n').slice(3).join('\n') ?? ''}`;
        // uvu prints a failing test's error but swallows a hook's: say it here.
        if (isHook) console.error(`\n${err.message}`);
        reject(err);
      }, ms);
    });
    try {
      // Promise.race subscribes to the handler's promise, so if it rejects after its
      // limit the rejection is handled, not a crash of the whole suite.
      await Promise.race([Promise.resolve().then(() => handler(context)), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}

function wrap(original: Registrar, suiteName: string): Registrar {
  const limitOf = (handler: Handler): number => {
    const env = envLimit();
    if (env === 0) return 0;
    const own = (handler as unknown as Record<symbol, number | undefined>)[LIMIT];
    const ofSuite = (wrapped as unknown as Record<symbol, number | undefined>)[LIMIT];
    return own ?? ofSuite ?? env ?? DEFAULT_TEST_TIMEOUT_MS;
  };
  const label = (what: string): string => `${suiteName || currentFile()} > ${what}`;
  const register = (into: (name: string, handler: Handler) => void) => (name: string, handler: Handler) =>
    into(name, limited(handler, limitOf(handler), label(name), false));
  const hook = (into: (handler: Handler) => void, what: string) => (handler: Handler) =>
    into(limited(handler, limitOf(handler), label(what), true));

  const wrapped = register(original) as unknown as Registrar;
  const before = original.before as ((h: Handler) => void) & { each: (h: Handler) => void };
  const after = original.after as ((h: Handler) => void) & { each: (h: Handler) => void };
  wrapped.only = register(original.only as (name: string, handler: Handler) => void);
  wrapped.skip = original.skip;
  wrapped.before = Object.assign(hook(before, 'before'), { each: hook(before.each, 'before each') });
  wrapped.after = Object.assign(hook(after, 'after'), { each: hook(after.each, 'after each') });
  wrapped.run = () => {
    // A limit set for the rest of a file ends with it (uvu's default `test` is shared by every file).
    delete (wrapped as unknown as Record<symbol, unknown>)[LIMIT];
    (original.run as () => void)();
  };
  return wrapped;
}

/**
 * The line that carries the wall-clock time of each file's suites, in milliseconds, as
 * JSON (`{"containers.test.ts": 81234}`), printed after uvu's report when the environment
 * says BERTH_TEST_FILE_TIMES=1: scripts/run-tests.js asks for it and prints each suite's
 * slowest files from it.
 */
export const FILE_TIMES_MARK = 'berth-test-file-times: ';

/**
 * Wrap every suite run uvu has queued (one group per file: its name, then a run per
 * suite, hooks included) to add its time to its file's; the map fills as uvu runs them.
 */
function timeFiles(): Map<string, number> {
  const times = new Map<string, number>();
  const queue = (globalThis as { UVU_QUEUE?: unknown[][] }).UVU_QUEUE ?? [];
  for (const group of queue) {
    const file = typeof group[0] === 'string' ? group[0] : '(file)';
    for (let i = 1; i < group.length; i++) {
      const run = group[i] as () => Promise<unknown>;
      group[i] = async () => {
        const started = performance.now();
        try {
          return await run();
        } finally {
          times.set(file, (times.get(file) ?? 0) + Math.round(performance.now() - started));
        }
      };
    }
  }
  return times;
}

/** Patch uvu's exports once per process; a second load (a test file importing withTimeout) changes nothing. */
function install(): void {
  // The live CommonJS exports object, which uvu/run and the compiled test files read
  // from (an ES import would give a copy).
  const target = require('uvu') as Record<string | symbol, unknown>;
  if (target[PATCHED]) return;
  target[PATCHED] = true;
  const originalSuite = target.suite as (title?: string, context?: unknown) => Registrar;
  const originalExec = target.exec as (bail?: boolean) => Promise<void>;
  target.suite = (title = '', context?: unknown) => wrap(originalSuite(title, context), title);
  target.test = wrap(target.test as Registrar, '');
  target.exec = async (bail?: boolean) => {
    const times = process.env.BERTH_TEST_FILE_TIMES === '1' ? timeFiles() : undefined;
    await originalExec(bail);
    if (times) process.stdout.write(`${FILE_TIMES_MARK}${JSON.stringify(Object.fromEntries(times))}\n`);
    // A test that timed out may still hold timers, sockets or children that keep the
    // event loop alive; uvu has printed its report, so end the process rather than hang.
    if (timedOut > 0) {
      console.error(`${timedOut} test(s) or hook(s) timed out; exiting without waiting for them`);
      process.exit(process.exitCode || 1);
    }
  };
}

install();

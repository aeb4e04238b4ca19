import { statSync } from 'node:fs';
import { defaultThreads, PARALLEL_MIN_BYTES, warmUpParseWorker } from './parallel.js';

/**
 * Boots the parse worker at once when the command line names a migration file large enough to be
 * parsed in parts and a core is free for it: booting takes about as long as loading the rules, so
 * the two overlap. Directories and small files wait: most pull requests lint a few small files,
 * which never need the worker. `sizeKnown` hears of such a file first (see LintIo.beforeLint).
 */
export async function startParseWorkerEarly(argv: readonly string[], sizeKnown?: (sqlLength: number) => void): Promise<void> {
  for (const argument of argv) {
    if (argument.startsWith('-')) continue;
    let size = 0;
    try {
      // Synchronous: one call, where an awaited one waits for libuv's thread pool while nothing else can run.
      const stats = statSync(argument, { throwIfNoEntry: false });
      if (stats?.isFile()) size = stats.size;
    } catch {
      // Unreadable: the lint itself says why.
    }
    if (size >= PARALLEL_MIN_BYTES) {
      // Before the worker starts, whose own start then runs as the rest of the lint will.
      sizeKnown?.(size);
      // Asked only now: reading how busy the machine is costs ~1 ms that most lints need not pay.
      if (defaultThreads() >= 2) warmUpParseWorker();
      return;
    }
  }
}

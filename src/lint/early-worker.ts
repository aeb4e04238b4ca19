import { stat } from 'node:fs/promises';
import { defaultThreads, PARALLEL_MIN_BYTES, warmUpParseWorker } from './parallel.js';

/**
 * Boots the parse worker at once when the command line names a migration file large enough to be
 * parsed in parts and a core is free for it: booting takes about as long as loading the rules, so
 * the two overlap. Directories and small files wait: most pull requests lint a few small files,
 * which never need the worker.
 */
export async function startParseWorkerEarly(argv: readonly string[]): Promise<void> {
  if (defaultThreads() < 2) return;
  for (const argument of argv) {
    if (argument.startsWith('-')) continue;
    const size = await stat(argument).then(
      (stats) => (stats.isFile() ? stats.size : 0),
      () => 0,
    );
    if (size >= PARALLEL_MIN_BYTES) {
      warmUpParseWorker();
      return;
    }
  }
}

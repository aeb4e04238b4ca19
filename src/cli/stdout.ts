/**
 * ship's standard output, watched for loss. A reader that went away (`ship deploy | head`: EPIPE)
 * or a full disk under a redirected log (ENOSPC) arrive as 'error' events on process.stdout, not
 * as exceptions from write; unhandled, they would kill ship with instances out of the load
 * balancer. Here they end writing for good and abort `lost`, which the pipeline treats like a
 * first Ctrl-C: the instances in flight are finished and put back, nothing new starts, and the
 * journal says why. stderr failing is only ignored: there is nobody left to tell.
 */
export class OutputLostError extends Error {
  constructor(override readonly cause: NodeJS.ErrnoException) {
    super(`the output was lost (${cause.code ?? 'error'}: ${cause.message})`);
    this.name = 'OutputLostError';
  }
}

const controller = new AbortController();

function lose(error: unknown): void {
  if (controller.signal.aborted) return;
  controller.abort(new OutputLostError(error as NodeJS.ErrnoException));
}

process.stdout.on('error', lose);
process.stderr.on('error', () => undefined);

export const stdout = {
  /** Aborted, with an OutputLostError, once standard output cannot be written any more. */
  lost: controller.signal,
  write(text: string): void {
    if (controller.signal.aborted) return;
    try {
      process.stdout.write(text);
    } catch (error) {
      lose(error);
    }
  },
};

/**
 * Collects a command's output for ExecResult while bounding memory: a chatty command (a package
 * upgrade, a build log) keeps only its last `limit` characters, because the end of the output is
 * where the error is. Streaming callbacks still see every chunk.
 */
export const DEFAULT_OUTPUT_LIMIT = 4 * 1024 * 1024;

export class OutputTail {
  private chunks: string[] = [];
  private kept = 0;
  private dropped = 0;

  constructor(private readonly limit = DEFAULT_OUTPUT_LIMIT) {}

  push(chunk: string): void {
    if (chunk === '') return;
    this.chunks.push(chunk);
    this.kept += chunk.length;
    while (this.kept > this.limit) {
      const first = this.chunks[0] ?? '';
      const excess = this.kept - this.limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.kept -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = first.slice(excess);
        this.kept -= excess;
        this.dropped += excess;
      }
    }
  }

  text(): string {
    const body = this.chunks.join('');
    return this.dropped > 0 ? `[ship: first ${this.dropped} characters of output dropped]\n${body}` : body;
  }
}

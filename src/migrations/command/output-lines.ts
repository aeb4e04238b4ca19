/**
 * A migration tool's output on its way to the user: split into whole lines, each scrubbed of the
 * secrets ship knows (registered ones, and the values ship put in the tool's environment, such as
 * DATABASE_URL, whose password a tool may print when it fails to connect).
 */
import { redact } from '../../util/redact.js';
import { scrubSecrets } from '../../util/redact-url.js';

export class OutputLines {
  private pending = '';

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: string): void {
    const lines = (this.pending + chunk).split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) this.emit(line.endsWith('\r') ? line.slice(0, -1) : line);
  }

  flush(): void {
    if (this.pending !== '') this.emit(this.pending);
    this.pending = '';
  }
}

/** Scrubs registered secrets and each of `values` (connection strings lose their password too). */
export function secretScrubber(values: readonly string[]): (text: string) => string {
  const secrets = values.filter((value) => value.length > 0);
  return (text) => {
    let scrubbed = redact(text);
    for (const secret of secrets) scrubbed = scrubSecrets(scrubbed, secret);
    return scrubbed;
  };
}

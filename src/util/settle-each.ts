/**
 * `Promise.allSettled(items.map((item) => limit(() => work(item))))` with a p-limit of
 * `concurrency`, the same order and the same results, but with `concurrency` workers taking the
 * next item instead of a queued promise and closure for every item up front: staging a fleet of
 * 10,000 hosts keeps 16 of them in memory, not 10,000.
 */
export async function settleEach<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const settled: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      try {
        settled[index] = { status: 'fulfilled', value: await work(items[index]!) };
      } catch (reason) {
        settled[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return settled;
}

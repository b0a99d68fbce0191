/** Runs work(0 … count−1) in `concurrency` closed-loop lanes: each lane takes the next index as soon as its last one is done. */
export async function inLanes(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

import { randomUUID } from 'node:crypto';
const [key, url, sizeS, concS, nS] = process.argv.slice(2);
const size = Number(sizeS), conc = Number(concS), n = Number(nS);
const bodies = Array.from({ length: n }, () => JSON.stringify({ events: Array.from({ length: size }, (_, i) => ({ idempotency_key: randomUUID(), customer_external_id: `c${i % 50}`, event_type: 'llm.completion', timestamp: new Date().toISOString(), quantity: '1', vendor_usage: [{ vendor: 'openai', model: 'gpt-4o-mini', input_tokens: 1200, output_tokens: 300 }] })) }));
(async () => {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => {
    while (next < n) {
      const b = bodies[next++]!;
      const t = performance.now();
      const r = await fetch(`${url}/api/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: b });
      await r.text();
      lat.push(performance.now() - t);
    }
  }));
  lat.sort((a, b) => a - b);
  console.log(`n=${n} size=${size} conc=${conc} total=${(performance.now() - t0).toFixed(0)}ms p50=${lat[Math.floor(n * 0.5)]!.toFixed(1)} p99=${lat[Math.min(n - 1, Math.floor(n * 0.99))]!.toFixed(1)} ev/s=${((n * size) / ((performance.now() - t0) / 1000)).toFixed(0)}`);
})();

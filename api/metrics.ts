import type { RequestListener } from 'node:http';
import { Router } from 'express';
import type { Pool } from 'pg';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BodyBudget } from './body-budget';
import type { DocumentedPaths } from './documented-paths';
import type { BacklogGate } from './ingest/backlog-gate';
import type { GroupCommitter } from './ingest/group-commit';

/**
 * Prometheus metrics of one API process, on its own registry (several apps
 * can share a process in tests). Why prom-client: the de-facto Node client,
 * text exposition format done right, maintained by the Prometheus community.
 * The backlog gauges are read when scraped, from the same figures the
 * backpressure check uses; the outbox and invoice gauges are read from the
 * database when scraped (deployment-wide: any API process answers the same).
 * Request durations are labelled with the OpenAPI document's path templates,
 * so the label set is bounded by the document.
 */
export function createMetrics(
  ingest: { writer: GroupCommitter; backlog: BacklogGate },
  pool: Pool,
  documented: DocumentedPaths,
  budget: BodyBudget | null,
): { router: Router; ingested: (outcome: IngestOutcome, events: number) => void; timed: (handler: RequestListener) => RequestListener } {
  const registry = new Registry();
  const durations = new Histogram({
    name: 'ledgerflow_http_request_duration_seconds',
    help: 'HTTP requests by method, route (the OpenAPI path template, or "other") and status, from arrival to the last byte of the answer',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'ledgerflow_notifications_undelivered',
    help: 'Notifications in the outbox not delivered yet (all organizations)',
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM notifications WHERE delivered_at IS NULL');
      this.set(rows[0]!.n);
    },
  });
  new Gauge({
    name: 'ledgerflow_notifications_oldest_undelivered_age_seconds',
    help: 'Age of the oldest notification not delivered yet; 0 when none waits',
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ age: number | null }>('SELECT extract(epoch FROM now() - min(created_at))::float8 AS age FROM notifications WHERE delivered_at IS NULL');
      this.set(rows[0]!.age ?? 0);
    },
  });
  new Gauge({
    name: 'ledgerflow_invoices',
    help: 'Invoices by status, the phase their billing run is in or ended at (draft = awaiting approval, approved = finalizing, finalized = collecting)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ status: string; n: number }>('SELECT status::text AS status, count(*)::int AS n FROM invoices GROUP BY status');
      this.reset();
      for (const row of rows) this.set({ status: row.status }, row.n);
    },
  });
  const gauge = (name: string, help: string, read: (reading: Awaited<ReturnType<BacklogGate['refresh']>>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(read(await ingest.backlog.refresh(250)));
      },
    });
  gauge('ledgerflow_ingest_pending_events', 'Accepted events not rated yet (waiting for a processing batch, or in one)', (r) => r.pendingEvents);
  gauge('ledgerflow_ingest_oldest_pending_age_seconds', 'Age of the oldest accepted event not rated yet', (r) => r.oldestPendingAgeSeconds);
  gauge('ledgerflow_ingest_waiting_requests', 'Requests waiting for a processing batch', (r) => r.waitingRequests);
  gauge('ledgerflow_ingest_open_batches', 'Processing batches whose workflow has not finished', (r) => r.openBatches);
  if (budget) {
    new Gauge({
      name: 'ledgerflow_api_request_body_bytes_in_process',
      help: 'Bytes of request bodies this process is reading or working on (bounded by API_BODY_BUDGET_BYTES)',
      registers: [registry],
      collect() {
        this.set(budget.inUseBytes);
      },
    });
    new Gauge({
      name: 'ledgerflow_api_requests_waiting_for_body_budget',
      help: 'Requests waiting for room in the body budget (answered 503 SERVER_BUSY after API_BODY_BUDGET_WAIT_MS)',
      registers: [registry],
      collect() {
        this.set(budget.waiting);
      },
    });
  }
  new Counter({
    name: 'ledgerflow_ingest_transactions_total',
    help: 'Ingest transactions committed by this process (group commit: each carries one or more requests)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(ingest.writer.stats.transactions);
    },
  });
  new Counter({
    name: 'ledgerflow_ingest_committed_requests_total',
    help: 'Ingest requests committed by this process',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(ingest.writer.stats.requests);
    },
  });
  const events = new Counter({
    name: 'ledgerflow_ingest_events_total',
    help: 'Events of ingest requests by outcome: accepted, duplicate, rejected (invalid or over a HARD quota), refused (backlog full)',
    labelNames: ['outcome'],
    registers: [registry],
  });

  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.set('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  });
  const timed = (handler: RequestListener): RequestListener => (req, res) => {
    const started = process.hrtime.bigint();
    // Read now: Express rewrites req.url as mounted routers take the request.
    const path = (req.url ?? '/').split('?')[0]!;
    res.once('finish', () => {
      const route = documented.routeOf(path);
      durations.observe({ method: req.method ?? 'GET', route, status: String(res.statusCode) }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    handler(req, res);
  };
  return { router, ingested: (outcome, n) => events.inc({ outcome }, n), timed };
}

export type IngestOutcome = 'accepted' | 'duplicate' | 'rejected' | 'refused';

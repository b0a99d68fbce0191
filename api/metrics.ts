import { Router } from 'express';
import { Counter, Gauge, Registry } from 'prom-client';
import type { BacklogGate } from './ingest/backlog-gate';
import type { GroupCommitter } from './ingest/group-commit';

/**
 * Prometheus metrics of one API process, on its own registry (several apps
 * can share a process in tests). Why prom-client: the de-facto Node client,
 * text exposition format done right, maintained by the Prometheus community.
 * The backlog gauges are read when scraped, from the same figures the
 * backpressure check uses.
 */
export function createMetrics(ingest: { writer: GroupCommitter; backlog: BacklogGate }): { router: Router; ingested: (outcome: IngestOutcome, events: number) => void } {
  const registry = new Registry();
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
  return { router, ingested: (outcome, n) => events.inc({ outcome }, n) };
}

export type IngestOutcome = 'accepted' | 'duplicate' | 'rejected' | 'refused';

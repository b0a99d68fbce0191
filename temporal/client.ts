import { Client, Connection } from '@temporalio/client';
import { DEFAULT_NAMESPACE } from './names';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import { requestIdInterceptor } from './request-id';

export interface TemporalClientHandle {
  client: Client;
  connection: Connection;
  close(): Promise<void>;
}

export async function createTemporalClient(
  address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
  namespace = process.env.TEMPORAL_NAMESPACE ?? DEFAULT_NAMESPACE,
): Promise<TemporalClientHandle> {
  const connection = await Connection.connect({ address });
  // Workflows a request starts or messages carry its id (temporal/request-id.ts) and its trace (temporal/tracing.ts).
  const client = new Client({ connection, namespace, interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor(), requestIdInterceptor] } });
  return { client, connection, close: () => connection.close() };
}

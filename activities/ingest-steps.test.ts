import { batchHours } from './ingest-steps';

const event = (customer: string, type: string, at: string, quantity: string) => ({ customer_external_id: customer, event_type: type, timestamp: new Date(at), quantity });

describe('batchHours: a batch quantity per customer, event type and UTC hour (what quotas count)', () => {
  it("sums each customer's and event type's quantities within one UTC hour, exactly", () => {
    const hours = batchHours([
      event('acme', 'api.call', '2026-12-06T10:00:00.000Z', '0.1'),
      event('acme', 'api.call', '2026-12-06T10:59:59.999Z', '0.2'),
      event('acme', 'api.call', '2026-12-06T11:00:00.000Z', '5'),
      event('acme', 'llm.tokens', '2026-12-06T10:30:00.000Z', '7.000001'),
      event('globex', 'api.call', '2026-12-06T10:30:00.000Z', '99999999999999.999999'),
      event('globex', 'api.call', '2026-12-06T10:31:00.000Z', '0.000001'),
    ]);
    expect(hours).toEqual(
      expect.arrayContaining([
        { customer_external_id: 'acme', event_type: 'api.call', hour: new Date('2026-12-06T10:00:00Z'), quantity: '0.3' },
        { customer_external_id: 'acme', event_type: 'api.call', hour: new Date('2026-12-06T11:00:00Z'), quantity: '5' },
        { customer_external_id: 'acme', event_type: 'llm.tokens', hour: new Date('2026-12-06T10:00:00Z'), quantity: '7.000001' },
        { customer_external_id: 'globex', event_type: 'api.call', hour: new Date('2026-12-06T10:00:00Z'), quantity: '100000000000000' },
      ]),
    );
    expect(hours).toHaveLength(4);
  });

  it('takes the hour in UTC whatever the offset the timestamp was sent with', () => {
    expect(batchHours([event('acme', 'api.call', '2026-12-06T10:45:00+05:30', '1')])).toEqual([
      { customer_external_id: 'acme', event_type: 'api.call', hour: new Date('2026-12-06T05:00:00Z'), quantity: '1' },
    ]);
  });

  it('gives nothing for no events', () => {
    expect(batchHours([])).toEqual([]);
  });
});

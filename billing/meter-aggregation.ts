import { Dec, dec } from './decimal';
import { DomainError } from './domain-error';

/**
 * How a meter turns one event type's events in a period into a billable
 * quantity. `unique_count` counts distinct values of a property (e.g. active
 * users); `latest` takes the quantity of the newest event (e.g. seats).
 */
export type MeterAggregation = 'sum' | 'count' | 'max' | 'unique_count' | 'latest';

export interface Meter {
  aggregation: MeterAggregation;
  /** the property whose distinct values `unique_count` counts */
  property?: string;
}

export interface MeteredEvent {
  id: string;
  quantity: Dec;
  timestamp: Date;
  properties: Record<string, unknown>;
}

export class InvalidMeterError extends DomainError {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

export function validateMeter(meter: Meter): void {
  if (meter.aggregation === 'unique_count' && !meter.property) {
    throw new InvalidMeterError('property', 'a unique_count meter needs the property whose distinct values it counts');
  }
}

/** The quantity a meter reads from events (in any order). Zero events give 0. */
export function aggregate(meter: Meter, events: readonly MeteredEvent[]): Dec {
  validateMeter(meter);
  switch (meter.aggregation) {
    case 'sum':
      return events.reduce((total, e) => total.plus(e.quantity), dec(0));
    case 'count':
      return dec(events.length);
    case 'max':
      return events.reduce((top, e) => Dec.max(top, e.quantity), events.length ? events[0]!.quantity : dec(0));
    case 'unique_count': {
      const seen = new Set<string>();
      for (const e of events) {
        const value = e.properties[meter.property!];
        // Events without the property have nothing to count.
        if (value !== undefined && value !== null) seen.add(JSON.stringify(value));
      }
      return dec(seen.size);
    }
    case 'latest': {
      let newest: MeteredEvent | undefined;
      for (const e of events) {
        // Ties on timestamp go to the larger id, so the answer never depends on order.
        if (!newest || e.timestamp > newest.timestamp || (e.timestamp.getTime() === newest.timestamp.getTime() && e.id > newest.id)) newest = e;
      }
      return newest ? newest.quantity : dec(0);
    }
  }
}

/** A day's reading of a meter, as a daily snapshot stores it. */
export interface DailyReading {
  day: string;
  quantity: Dec;
  /** the newest event's timestamp and id that day (for `latest`) */
  newestAt: Date | null;
  newestId: string | null;
}

/**
 * Combines daily readings into the period's quantity, for the aggregations
 * where that is exact (sum, count, max, latest). `unique_count` is not:
 * a user active on two days is one user, so it must be read from the events.
 */
export function combineDaily(meter: Meter, days: readonly DailyReading[]): Dec {
  switch (meter.aggregation) {
    case 'sum':
    case 'count':
      return days.reduce((total, d) => total.plus(d.quantity), dec(0));
    case 'max':
      return days.reduce((top, d) => Dec.max(top, d.quantity), days.length ? days[0]!.quantity : dec(0));
    case 'latest': {
      let newest: DailyReading | undefined;
      for (const d of days) {
        if (!d.newestAt) continue;
        if (!newest || d.newestAt > newest.newestAt! || (d.newestAt.getTime() === newest.newestAt!.getTime() && (d.newestId ?? '') > (newest.newestId ?? ''))) newest = d;
      }
      return newest ? newest.quantity : dec(0);
    }
    case 'unique_count':
      throw new InvalidMeterError('aggregation', 'unique_count cannot be combined from daily readings; aggregate the events');
  }
}

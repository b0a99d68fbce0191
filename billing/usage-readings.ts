import { formatDay, startOfUtcDay } from './calendar';
import { dec, type Dec } from './decimal';
import { aggregate, type Meter, type MeteredEvent } from './meter-aggregation';

/** A usage event with what rating added to it. */
export interface RatedEvent extends MeteredEvent {
  cost: Dec | null;
  revenue: Dec | null;
}

/** One UTC day of one meter (of one value of its dimension, when it has one): what a daily usage snapshot stores. */
export interface DayReading {
  /** midnight UTC */
  day: Date;
  /** for a meter with a dimension: the events' value of it ('' for none); absent: the whole meter */
  dimensionValue?: string;
  quantity: Dec;
  eventCount: number;
  /** vendor cost and customer revenue of the day's rated events */
  cost: Dec;
  revenue: Dec;
  newestAt: Date | null;
  newestId: string | null;
}

/** The meter's reading per UTC day that has events, oldest day first. */
export function readingsByDay(meter: Meter, events: readonly RatedEvent[]): DayReading[] {
  const byDay = new Map<string, RatedEvent[]>();
  for (const e of events) {
    const key = formatDay(e.timestamp);
    const list = byDay.get(key);
    if (list) list.push(e);
    else byDay.set(key, [e]);
  }
  return [...byDay.keys()].sort().map((key) => {
    const dayEvents = byDay.get(key)!;
    let newest: RatedEvent | null = null;
    for (const e of dayEvents) {
      if (!newest || e.timestamp > newest.timestamp || (e.timestamp.getTime() === newest.timestamp.getTime() && e.id > newest.id)) newest = e;
    }
    return {
      day: startOfUtcDay(dayEvents[0]!.timestamp),
      quantity: aggregate(meter, dayEvents),
      eventCount: dayEvents.length,
      cost: dayEvents.reduce((sum, e) => (e.cost ? sum.plus(e.cost) : sum), dec(0)),
      revenue: dayEvents.reduce((sum, e) => (e.revenue ? sum.plus(e.revenue) : sum), dec(0)),
      newestAt: newest?.timestamp ?? null,
      newestId: newest?.id ?? null,
    };
  });
}

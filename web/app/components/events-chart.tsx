import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

/** Events taken into processing batches per minute as bars (recharts), summarised in words for assistive technology. */
export function EventsPerMinuteChart({ points }: { points: { minute: string; events: number }[] }) {
  const total = points.reduce((sum, p) => sum + p.events, 0);
  const busiest = points.reduce((top, p) => (p.events > top.events ? p : top), points[0] ?? { minute: '', events: 0 });
  const summary =
    total === 0
      ? 'No events were batched for rating in the last hour.'
      : `${total.toLocaleString('en-US')} events batched for rating in the last hour; the busiest minute was ${busiest.minute} UTC with ${busiest.events.toLocaleString('en-US')}.`;
  return (
    <figure className="chart" aria-labelledby="events-chart-caption">
      <figcaption id="events-chart-caption">Events per minute, last hour (UTC)</figcaption>
      <p data-testid="events-summary">{summary}</p>
      <div aria-hidden="true" data-testid="events-chart">
        <ResponsiveContainer width="100%" height={180}>
          <BarChart accessibilityLayer={false} data={points} margin={{ top: 8, right: 12, bottom: 8, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="minute" minTickGap={24} />
            <YAxis allowDecimals={false} width={56} />
            <Tooltip />
            <Bar dataKey="events" name="events" fill="#1a56db" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}

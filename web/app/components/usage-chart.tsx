import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

export interface UsageChartProps {
  series: { key: string; name: string }[];
  points: Record<string, string | number>[];
  /** the same numbers as exact strings, for the table screen readers (and anyone) can read */
  table: { day: string; values: string[] }[];
  caption: string;
}

// Distinguishable for common colour blindness, each ≥ 3:1 against white; lines also differ by dash.
const COLOURS = ['#1a56db', '#b45309', '#047857', '#7c3aed', '#be123c'];
const DASHES = [undefined, '6 3', '2 2', '8 3 2 3', '1 3'];

/** Daily usage per meter as a line chart (recharts), with the data as a table for assistive technology. */
export function UsageChart({ series, points, table, caption }: UsageChartProps) {
  if (points.length === 0) return <p>No usage recorded in this window.</p>;
  return (
    <figure className="chart" aria-labelledby="usage-chart-caption">
      <figcaption id="usage-chart-caption">{caption}</figcaption>
      <div aria-hidden="true" data-testid="usage-chart">
        <ResponsiveContainer width="100%" height={260}>
          <LineChart accessibilityLayer={false} data={points} margin={{ top: 8, right: 12, bottom: 8, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="day" tickFormatter={(d: string) => d.slice(5)} minTickGap={16} />
            <YAxis allowDecimals width={56} />
            <Tooltip />
            <Legend />
            {series.map((s, i) => (
              <Line key={s.key} type="monotone" dataKey={s.key} name={s.name} stroke={COLOURS[i % COLOURS.length]} strokeDasharray={DASHES[i % DASHES.length]} dot={false} isAnimationActive={false} />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
      <details>
        <summary>The numbers as a table</summary>
        <div className="table-wrap" tabIndex={0}>
          <table>
            <caption className="skip">{caption}</caption>
            <thead>
              <tr>
                <th scope="col">Day</th>
                {series.map((s) => (
                  <th scope="col" key={s.key} className="num">
                    {s.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {table.map((row) => (
                <tr key={row.day}>
                  <th scope="row">{row.day}</th>
                  {row.values.map((v, i) => (
                    <td key={series[i]!.key} className="num">
                      {v}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}

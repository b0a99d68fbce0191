/** RFC 4180: quote a field holding a comma, quote or line break, doubling its quotes. Formula-looking fields are prefixed with ' so spreadsheets show them as text. */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** A header line and one line per row, CRLF-terminated. */
export function toCsv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return `${[header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n')}\r\n`;
}

/** The response of a CSV download, with how many rows it holds and whether it was cut short. */
export function csvResponse(csv: string, filename: string, rows: number, truncated: boolean): Response {
  return new Response(csv, {
    headers: {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="${filename}"`,
      'Cache-Control': 'no-store',
      'Ledgerflow-Export-Rows': String(rows),
      'Ledgerflow-Export-Truncated': String(truncated),
    },
  });
}

/** A timestamp for a download's file name: 20261205-123456. */
export const fileStamp = (now = new Date()): string => now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');

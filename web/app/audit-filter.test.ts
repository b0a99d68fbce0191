import { auditCsv, auditQuery, parseAuditFilter, type AuditRow } from './audit-filter';

const parse = (query: string) => parseAuditFilter(new URLSearchParams(query));

describe('audit filter', () => {
  it('reads entity, actor and a date range, a bare "to" date meaning the end of that day', () => {
    const { filter, problems } = parse('entity_type=invoice&entity_id=abc&actor=finance@x.test&from=2026-11-01&to=2026-11-22');
    expect(problems).toEqual([]);
    expect(filter).toEqual({
      entityType: 'invoice',
      entityId: 'abc',
      actor: 'finance@x.test',
      from: new Date('2026-11-01T00:00:00Z'),
      to: new Date('2026-11-23T00:00:00Z'),
      before: null,
    });
  });

  it('treats empty fields as no filter and takes ISO date-times as given', () => {
    const { filter } = parse('entity_type=&actor=%20%20&from=2026-11-22T10:30:00Z&before=42');
    expect(filter).toMatchObject({ entityType: null, actor: null, from: new Date('2026-11-22T10:30:00Z'), to: null, before: 42n });
  });

  it('names the field of an unreadable or inverted range instead of guessing', () => {
    expect(parse('from=yesterday').problems).toEqual([{ field: 'from', message: 'From: "yesterday" is not a date (YYYY-MM-DD) or an ISO 8601 date-time' }]);
    expect(parse('from=2026-11-22&to=2026-11-21').problems).toEqual([{ field: 'to', message: 'To must be after From' }]);
    expect(parse('before=1;drop').problems[0]?.field).toBe('before');
    expect(parse('from=2026-02-30').problems[0]?.field).toBe('from');
  });

  it('keeps the filter (not the page) in links', () => {
    expect(auditQuery(new URLSearchParams('actor=a@b&before=9&from=2026-11-01&junk=1'), { before: '5' })).toBe('?actor=a%40b&from=2026-11-01&before=5');
    expect(auditQuery(new URLSearchParams(''))).toBe('');
  });
});

describe('audit CSV', () => {
  const row: AuditRow = {
    id: '7',
    at: '2026-11-22T10:00:00.000Z',
    actor: 'user: finance@x.test',
    action: 'invoice.approved',
    entityType: 'invoice',
    entityId: 'inv-1',
    runId: null,
    before: '',
    after: '{"note":"ok, \\"checked\\""}',
  };

  it('writes a header and quotes fields with commas and quotes (RFC 4180, CRLF)', () => {
    expect(auditCsv([row])).toBe(
      'id,at,actor,action,entity_type,entity_id,run_id,before,after\r\n' +
        '7,2026-11-22T10:00:00.000Z,user: finance@x.test,invoice.approved,invoice,inv-1,,,"{""note"":""ok, \\""checked\\""""}"\r\n',
    );
  });

  it('defuses fields a spreadsheet would run as formulas', () => {
    expect(auditCsv([{ ...row, after: '=HYPERLINK("x")' }]).split('\r\n')[1]).toMatch(/,"'=HYPERLINK\(""x""\)"$/);
  });
});

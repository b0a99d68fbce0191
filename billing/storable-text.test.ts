import { findUnstorableText, storableText } from './storable-text';

describe('findUnstorableText', () => {
  it('accepts ordinary text, emoji (paired surrogates) and non-string values', () => {
    expect(findUnstorableText({ a: 'héllo', b: ['😀', 3, true, null], c: { d: 'ok' } })).toBeNull();
    expect(findUnstorableText(42)).toBeNull();
  });

  it('names the field holding a NUL character, however deep', () => {
    expect(findUnstorableText({ events: [{ ok: 'x' }, { properties: { note: 'a\u0000b' } }] })).toEqual({
      field: 'events[1].properties.note',
      message: 'events[1].properties.note contains a NUL character (U+0000), which cannot be stored',
    });
  });

  it('names unpaired surrogates, high or low, and keys that hold them', () => {
    expect(findUnstorableText({ name: 'x\uD800' })?.field).toBe('name');
    expect(findUnstorableText({ name: '\uDC00x' })?.message).toBe('name contains an unpaired UTF-16 surrogate, which is not valid Unicode');
    expect(findUnstorableText({ properties: { 'k\u0000': 1 } })).toEqual({ field: 'properties', message: 'a key in properties contains a NUL character (U+0000), which cannot be stored' });
    expect(findUnstorableText('\u0000')).toEqual({ field: '', message: 'the value contains a NUL character (U+0000), which cannot be stored' });
  });
});

describe('storableText', () => {
  it('replaces what cannot be stored and keeps the rest', () => {
    expect(storableText('a\u0000b\uD800c😀')).toBe('a\uFFFDb\uFFFDc😀');
  });
});

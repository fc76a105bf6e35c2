// Shortening text for QuickBooks' length limits without breaking characters: an emoji, a flag, a letter with
// combining marks or a right-to-left word is either kept whole or dropped whole, never cut in half.
// Lengths are UTF-16 code units (see quickbooksLimits.ts).

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** `text` cut to at most `maxLength` UTF-16 units, on a grapheme boundary, trailing spaces removed. */
export function truncateText(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  let out = '';
  for (const { segment } of graphemes.segment(text)) {
    if (out.length + segment.length > maxLength) break;
    out += segment;
  }
  return out.trimEnd();
}

/** NFC, control characters and line breaks turned into spaces, runs of spaces collapsed, trimmed. */
export function singleLine(text: string): string {
  return text
    .normalize('NFC')
    .replace(/[\p{Cc}\u2028\u2029]/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
}

/** Like `singleLine` but `null` for missing or blank input. */
export function cleanOptional(text: string | null | undefined): string | null {
  if (text == null) return null;
  const s = singleLine(text);
  return s === '' ? null : s;
}

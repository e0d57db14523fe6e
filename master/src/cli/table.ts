/** Plain-text table with a header row, columns padded to their widest cell; `empty` instead of a table of no rows. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  empty?: string,
): string {
  if (rows.length === 0 && empty !== undefined) return empty;
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  return `${all
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

/** An ISO timestamp shortened to the second, or "-" when absent. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  return iso.replace(/\.\d+Z$/, 'Z');
}

/** `Label  value` lines, the values aligned after the longest label (a detail view). */
export function formatFields(fields: readonly (readonly [label: string, value: string])[]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return `${fields.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n')}\n`;
}

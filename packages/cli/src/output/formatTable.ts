/**
 * Renders rows as a plain-text table with a header, columns padded to their widest cell; numbers
 * (and `-` placeholders) are right-aligned, like `kafka-consumer-groups --describe`.
 */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const isNumeric = header.map((_, column) => rows.length > 0 && rows.every((row) => /^(-?\d+|-)$/.test(row[column])));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (isNumeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

import { showLabel } from '../labels/problems.js';
import type { LabelParseResult } from '../labels/types.js';

export interface ContainerReport {
  container: string;
  result: LabelParseResult;
}

const CELL = 48;

function cell(text: string | undefined): string {
  const value = showLabel(text ?? '-');
  return value.length > CELL ? `${value.slice(0, CELL - 1)}…` : value;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    `  ${row.map((value, column) => value.padEnd(widths[column]!)).join('  ')}`.trimEnd(),
  );
}

function formatOne({ container, result }: ContainerReport): string[] {
  const lines = [`Container ${cell(container)}`];
  if (!result.enabled && result.routes.length + result.invalidRoutes.length === 0) {
    lines.push(
      '  not enabled (no tunnelfleet.enable=true, dockflare.enable=true, labelgate.tunnel.* or dag.enabled=true labels)',
    );
  } else {
    const rows = [['ROUTE', 'SOURCE', 'HOSTNAME', 'PATH', 'SERVICE', 'STATUS']];
    for (const route of result.routes) {
      rows.push([
        cell(route.key),
        route.source,
        cell(route.hostname),
        cell(route.path),
        cell(route.service),
        'ok',
      ]);
    }
    for (const route of result.invalidRoutes) {
      rows.push([cell(route.key), route.source, cell(route.hostname), '-', '-', 'invalid']);
    }
    lines.push(...table(rows));
  }
  for (const problem of result.problems) lines.push(`  ${problem.severity.padEnd(7)}  ${problem.message}`);
  return lines;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** The readable report: one block per container and a summary line. */
export function formatReport(reports: readonly ContainerReport[]): string {
  const problems = reports.flatMap((r) => r.result.problems);
  const summary = [
    count(reports.length, 'container'),
    count(
      reports.reduce((n, r) => n + r.result.routes.length, 0),
      'route',
    ),
    `${reports.reduce((n, r) => n + r.result.invalidRoutes.length, 0)} invalid`,
    count(problems.filter((p) => p.severity === 'error').length, 'error'),
    count(problems.filter((p) => p.severity === 'warning').length, 'warning'),
  ].join(', ');
  return `${[...reports.flatMap((report) => [...formatOne(report), '']), summary].join('\n')}\n`;
}

export function hasErrors(reports: readonly ContainerReport[]): boolean {
  return reports.some((r) => r.result.problems.some((p) => p.severity === 'error'));
}

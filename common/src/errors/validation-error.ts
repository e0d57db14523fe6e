import type { z } from 'zod';
import { TunnelfleetError } from './tunnelfleet-error.js';

interface ValidationIssue {
  /** Where in the input, e.g. `containers[0].labels["tunnelfleet.enable"]`; empty for the root. */
  path: string;
  reason: string;
}

/** Issues named in the message; the rest are summarised so a hostile body cannot bloat it. */
const ISSUES_IN_MESSAGE = 10;

/** Renders a zod path the way a reader would write it in JavaScript. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment))
      text += text ? `.${segment}` : segment;
    else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text;
}

/** Input that failed its schema at a boundary (HTTP body, label set, file). */
export class ValidationError extends TunnelfleetError {
  readonly issues: readonly ValidationIssue[];

  /** `subject` names what was validated, e.g. `report body`. */
  constructor(subject: string, issues: readonly ValidationIssue[]) {
    const shown = issues
      .slice(0, ISSUES_IN_MESSAGE)
      .map((issue) => (issue.path ? `${issue.path}: ${issue.reason}` : issue.reason));
    const more = issues.length > ISSUES_IN_MESSAGE ? `; and ${issues.length - ISSUES_IN_MESSAGE} more` : '';
    super('validation_failed', `invalid ${subject}: ${shown.join('; ')}${more}`, {
      httpStatus: 400,
      details: { issues: issues.slice(0, ISSUES_IN_MESSAGE * 10) },
    });
    this.issues = issues;
  }

  static fromZod(subject: string, error: z.ZodError): ValidationError {
    return new ValidationError(
      subject,
      error.issues.map((issue) => ({ path: formatIssuePath(issue.path), reason: issue.message })),
    );
  }
}

/** Parses `input` with `schema` or throws a `ValidationError` naming every bad field. */
export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown, subject: string): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw ValidationError.fromZod(subject, result.error);
  return result.data;
}

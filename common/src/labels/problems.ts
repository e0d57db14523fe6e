import type { LabelProblem } from './types.js';

const SHOWN_VALUE_CHARS = 80;
const STORED_VALUE_CHARS = 200;
const SHOWN_LABEL_CHARS = 120;

/** A value quoted for a message; hostile huge values are cut and their length given. */
export function showValue(value: string): string {
  if (value.length <= SHOWN_VALUE_CHARS) return JSON.stringify(value);
  return `${JSON.stringify(`${value.slice(0, SHOWN_VALUE_CHARS)}…`)} (${value.length} characters)`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL = /[\u0000-\u001f\u007f]/g;

export function hasControlCharacter(text: string): boolean {
  CONTROL.lastIndex = 0;
  return CONTROL.test(text);
}

export function showLabel(label: string): string {
  const cut = label.length > SHOWN_LABEL_CHARS ? `${label.slice(0, SHOWN_LABEL_CHARS)}…` : label;
  // Control characters in a key must not break a one-line message or a terminal.
  return cut.replace(CONTROL, '?');
}

interface ProblemInput {
  label: string;
  value?: string;
  /** Completes the sentence `<label>: "<value>" <reason>` (or `<label>: <reason>` without a value). */
  reason: string;
  route?: string;
}

function make(severity: LabelProblem['severity'], input: ProblemInput): LabelProblem {
  const label = showLabel(input.label);
  const message =
    input.value === undefined
      ? `${label}: ${input.reason}`
      : `${label}: ${showValue(input.value)} ${input.reason}`;
  const problem: LabelProblem = { severity, label, message };
  if (input.value !== undefined) problem.value = input.value.slice(0, STORED_VALUE_CHARS);
  if (input.route !== undefined) problem.route = input.route;
  return problem;
}

export const labelError = (input: ProblemInput): LabelProblem => make('error', input);
export const labelWarning = (input: ProblemInput): LabelProblem => make('warning', input);

/** Result of checking one value: the normalized value or why it is refused. */
export type Check<T> = { ok: true; value: T } | { ok: false; reason: string };

export const ok = <T>(value: T): Check<T> => ({ ok: true, value });
export const refuse = <T = never>(reason: string): Check<T> => ({ ok: false, reason });

/** One label's checked value, or undefined after recording an error that names the label. */
export function checkLabel<T>(
  field: { label: string; value: string },
  check: (raw: string) => Check<T>,
  problems: LabelProblem[],
): T | undefined {
  const checked = check(field.value);
  if (checked.ok) return checked.value;
  problems.push(labelError({ label: field.label, value: field.value, reason: checked.reason }));
  return undefined;
}

import type { RouteDraft } from './route-draft.js';
import type { LabelProblem } from './types.js';

/** Labels by key; a Map so that keys such as `__proto__` are plain data. */
export type LabelMap = ReadonlyMap<string, string>;

/** What one label language found on a container. */
export interface ReaderResult {
  /** The container carries labels of this language. */
  present: boolean;
  /** This language switches the container on. */
  enabled: boolean;
  drafts: RouteDraft[];
  /** Container-level problems (route problems live in the drafts). */
  problems: LabelProblem[];
}

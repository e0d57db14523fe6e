import type { LabelMap, ReaderResult } from './reader.js';

export function labelgateReader(_labels: LabelMap): ReaderResult {
  return { present: false, enabled: false, drafts: [], problems: [] };
}

export { checkInlinePolicy } from './access.js';
export { parseContainerLabels } from './parse-container-labels.js';
export { accessPathProblem } from './path-regex.js';
export type {
  AccessDecision,
  AccessPolicySpec,
  AccessRule,
  AccessSpec,
  InvalidRoute,
  LabelParseContext,
  LabelParseResult,
  LabelProblem,
  LabelSource,
  OriginAccess,
  OriginIpRule,
  OriginRequest,
  ParsedRoute,
} from './types.js';

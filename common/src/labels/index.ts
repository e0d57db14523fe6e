export { checkInlinePolicy } from './access.js';
export {
  CREATE_DOCKFLARE_DEFAULTS_COMMAND,
  DOCKFLARE_AUTHENTICATED_GROUP,
  DOCKFLARE_BYPASS_GROUP,
  dockflareDefaultPolicies,
  undefinedPolicyMessage,
} from './dockflare-groups.js';
export { checkHostname } from './hostname.js';
export { parseContainerLabels } from './parse-container-labels.js';
export { accessPathProblem } from './path-regex.js';
export {
  checkServicePolicy,
  DEFAULT_SERVICE_POLICY,
  type OwnContainer,
  SERVICE_KIND_MEANINGS,
  SERVICE_KINDS,
  type ServiceKind,
  type ServicePolicy,
  type ServiceVerdict,
} from './service-policy.js';
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
  WakeSpec,
} from './types.js';

export { checkInlinePolicy } from './access.js';
export {
  CREATE_DOCKFLARE_DEFAULTS_COMMAND,
  DOCKFLARE_AUTHENTICATED_GROUP,
  DOCKFLARE_BYPASS_GROUP,
  dockflareDefaultPolicies,
  undefinedPolicyMessage,
} from './dockflare-groups.js';
export { checkHostname } from './hostname.js';
export {
  BUILT_IN_LABEL_PREFIXES,
  checkLabelPrefix,
  checkLabelPrefixes,
  LABEL_PREFIX_MAX_LENGTH,
  LABEL_PREFIX_VARIABLES,
  type LabelPrefixes,
  labelPrefixesOf,
} from './label-prefixes.js';
export { parseContainerLabels } from './parse-container-labels.js';
export { accessPathProblem, type GatewayPathMatch, gatewayPathMatch } from './path-regex.js';
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

import type { ListAccessPoliciesResponse } from '@tunnelfleet/common/admin-api';
import { type FormEvent, useState } from 'react';
import { api } from '../api.js';
import { Badge, Empty, ErrorNote } from '../components/status.js';
import { useData } from '../components/use-data.js';
import { canChange, useSession } from '../session.js';

/** The rule kinds the builder offers, each with the value it asks for. */
const RULE_KINDS = {
  email: { label: 'Email', placeholder: 'ops@example.com', make: (v: string) => ({ email: { email: v } }) },
  email_domain: {
    label: 'Email domain',
    placeholder: 'example.com',
    make: (v: string) => ({ email_domain: { domain: v } }),
  },
  ip: { label: 'IP range', placeholder: '203.0.113.0/24', make: (v: string) => ({ ip: { ip: v } }) },
  geo: {
    label: 'Country',
    placeholder: 'CH',
    make: (v: string) => ({ geo: { country_code: v.toUpperCase() } }),
  },
  group: { label: 'Access group id', placeholder: 'group id', make: (v: string) => ({ group: { id: v } }) },
  service_token: {
    label: 'Service token id',
    placeholder: 'token id',
    make: (v: string) => ({ service_token: { token_id: v } }),
  },
  everyone: { label: 'Everyone', placeholder: '', make: () => ({ everyone: {} }) },
} as const;
type RuleKind = keyof typeof RULE_KINDS;
type Section = 'include' | 'require' | 'exclude';
interface DraftRule {
  kind: RuleKind;
  value: string;
}

function describeRule(rule: Record<string, unknown>): string {
  const [kind, value] = Object.entries(rule)[0] ?? ['?', {}];
  const detail = Object.values(value as Record<string, unknown>)[0];
  return detail === undefined ? kind : `${kind} ${String(detail)}`;
}

function RuleList(props: { section: Section; rules: DraftRule[]; onChange: (rules: DraftRule[]) => void }) {
  const { section, rules, onChange } = props;
  return (
    <fieldset>
      <legend>
        {section === 'include'
          ? 'Include (any of)'
          : section === 'require'
            ? 'Require (all of)'
            : 'Exclude (none of)'}
      </legend>
      {rules.map((rule, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: draft rows are edited in place by position
        <div key={index} className="rule">
          <label>
            Kind
            <select
              value={rule.kind}
              onChange={(e) =>
                onChange(rules.map((r, i) => (i === index ? { ...r, kind: e.target.value as RuleKind } : r)))
              }
            >
              {Object.entries(RULE_KINDS).map(([kind, { label }]) => (
                <option key={kind} value={kind}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          {rule.kind === 'everyone' ? null : (
            <label>
              Value
              <input
                value={rule.value}
                placeholder={RULE_KINDS[rule.kind].placeholder}
                onChange={(e) =>
                  onChange(rules.map((r, i) => (i === index ? { ...r, value: e.target.value } : r)))
                }
              />
            </label>
          )}
          <button type="button" onClick={() => onChange(rules.filter((_, i) => i !== index))}>
            Remove rule
          </button>
        </div>
      ))}
      <button type="button" onClick={() => onChange([...rules, { kind: 'email', value: '' }])}>
        Add {section} rule
      </button>
    </fieldset>
  );
}

function PolicyBuilder({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [decision, setDecision] = useState<'allow' | 'deny' | 'bypass' | 'non_identity'>('allow');
  const [rules, setRules] = useState<Record<Section, DraftRule[]>>({
    include: [{ kind: 'email', value: '' }],
    require: [],
    exclude: [],
  });
  const [error, setError] = useState<string | undefined>();
  const build = (section: Section) =>
    rules[section].map((rule) => RULE_KINDS[rule.kind].make(rule.value.trim()));
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await api.createAccessPolicy({
        name: name.trim(),
        spec: {
          decision,
          include: build('include'),
          require: build('require'),
          exclude: build('exclude'),
        } as never,
      });
      setName('');
      setError(undefined);
      onCreated();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };
  return (
    <form onSubmit={submit} className="panel" aria-labelledby="builder-title">
      <h2 id="builder-title">New named policy</h2>
      <label htmlFor="policy-name">Name (labels use it: tunnelfleet.access.named_policy=…)</label>
      <input id="policy-name" required value={name} onChange={(e) => setName(e.target.value)} />
      <label htmlFor="policy-decision">Decision</label>
      <select
        id="policy-decision"
        value={decision}
        onChange={(e) => setDecision(e.target.value as typeof decision)}
      >
        <option value="allow">allow</option>
        <option value="deny">deny</option>
        <option value="bypass">bypass</option>
        <option value="non_identity">non_identity (service auth)</option>
      </select>
      {(['include', 'require', 'exclude'] as const).map((section) => (
        <RuleList
          key={section}
          section={section}
          rules={rules[section]}
          onChange={(next) => setRules({ ...rules, [section]: next })}
        />
      ))}
      <ErrorNote error={error} />
      <button type="submit">Create policy</button>
    </form>
  );
}

function PolicyCard({
  policy,
  onRemoved,
}: {
  policy: ListAccessPoliciesResponse['policies'][number];
  onRemoved: () => void;
}) {
  const session = useSession();
  const [error, setError] = useState<string | undefined>();
  return (
    <li className="card">
      <h3>
        {policy.name} <Badge tone="muted">{policy.spec.decision}</Badge>{' '}
        {policy.cfPolicyId ? (
          <Badge tone="ok">at Cloudflare</Badge>
        ) : (
          <Badge tone="warn">not pushed yet</Badge>
        )}
      </h3>
      <p>Include: {policy.spec.include.map((r) => describeRule(r)).join(', ')}</p>
      {policy.spec.require.length > 0 ? (
        <p>Require: {policy.spec.require.map((r) => describeRule(r)).join(', ')}</p>
      ) : null}
      {policy.spec.exclude.length > 0 ? (
        <p>Exclude: {policy.spec.exclude.map((r) => describeRule(r)).join(', ')}</p>
      ) : null}
      <p>
        {policy.usedBy.length === 0
          ? 'No route uses it yet.'
          : `Used by ${policy.usedBy.length === 1 ? 'one route' : `${policy.usedBy.length} routes`}: ${policy.usedBy.join(', ')}`}
      </p>
      <p className="help">
        Attach it with the label <code>tunnelfleet.access.named_policy={policy.name}</code>.
      </p>
      {canChange(session) ? (
        <button
          type="button"
          className="danger"
          onClick={async () => {
            try {
              await api.removeAccessPolicy(policy.id);
              onRemoved();
            } catch (failure) {
              setError(failure instanceof Error ? failure.message : String(failure));
            }
          }}
        >
          Delete {policy.name}
        </button>
      ) : null}
      <ErrorNote error={error} />
    </li>
  );
}

export function AccessPage() {
  const session = useSession();
  const policies = useData(() => api.accessPolicies(), [], ['admin', 'routes']);
  const publicRoutes = useData(() => api.publicRoutes(), [], ['routes']);
  return (
    <section>
      <h1>Access</h1>
      {canChange(session) ? <PolicyBuilder onCreated={() => void policies.reload()} /> : null}
      <h2>Named policies</h2>
      <ErrorNote error={policies.error} />
      {policies.data?.policies.length === 0 ? <Empty>No named policy yet.</Empty> : null}
      <ul className="plain cards-list">
        {policies.data?.policies.map((policy) => (
          <PolicyCard key={policy.id} policy={policy} onRemoved={() => void policies.reload()} />
        ))}
      </ul>
      <h2>Public hostnames</h2>
      <ErrorNote error={publicRoutes.error} />
      {publicRoutes.data ? (
        <>
          <p>
            {publicRoutes.data.requireAccess
              ? 'REQUIRE_ACCESS is on: only routes marked public on purpose can be here.'
              : 'REQUIRE_ACCESS is off: any route without access labels is public.'}
          </p>
          {publicRoutes.data.routes.length === 0 ? (
            <Empty>No hostname is served without Access.</Empty>
          ) : (
            <ul className="plain">
              {publicRoutes.data.routes.map((route) => (
                <li key={`${route.hostname}${route.path}`}>
                  {route.hostname}
                  {route.path} ({route.containerName} on {route.agentId}){' '}
                  {route.markedPublic ? (
                    <Badge tone="ok">public on purpose</Badge>
                  ) : (
                    <Badge tone="warn">no Access</Badge>
                  )}
                </li>
              ))}
            </ul>
          )}
        </>
      ) : null}
    </section>
  );
}

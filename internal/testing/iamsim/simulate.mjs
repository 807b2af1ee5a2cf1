// Evaluates a batch of IAM requests with @cloud-copilot/iam-simulate
// (AGPL-3.0: a test tool, resolved from the repository's node_modules,
// never bundled or shipped). Run by iamsim.Simulator.Evaluate:
//
//   node --input-type=module --eval <this script> <repository root>
//
// stdin: a JSON array of requests {principal, identityPolicies: [{name,
// policy}], resourcePolicy, action, resource, accountId, context}.
// stdout: a JSON array of results, one per request, in order: {decision,
// explanation, ignoredContextKeys, resourceType, grants: [{policy, sid}]}.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = process.argv[process.argv.length - 1];
const require = createRequire(join(root, 'package.json'));
const sim = require('@cloud-copilot/iam-simulate');

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'));

// sid names a statement by its Sid, or its 1-based index.
function sid(explain) {
  return String(explain.identifier ?? '?');
}

// list reads a field the simulator gives as one item or a list.
function list(v) {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function values(v) {
  return list(v).map((x) => x.value);
}

// why says why a statement whose action matches did not apply.
function why(explain) {
  const out = [];
  if (!explain.resourceMatch) {
    out.push('resource matches none of ' + JSON.stringify(list(explain.resources).map((r) => r.resource)));
  }
  for (const c of list(explain.conditions)) {
    if (c.matches) continue;
    const want = `${c.operator} ${c.conditionKeyValue} ${JSON.stringify(values(c.values))}`;
    if (c.failedBecauseMissing) {
      out.push(`condition ${want}: the request has no ${c.conditionKeyValue}`);
    } else {
      out.push(`condition ${want}: the request's value ${JSON.stringify(c.resolvedConditionKeyValue)} does not match`);
    }
  }
  if (explain.principalMatch && explain.principalMatch !== 'Match' && explain.principalMatch !== 'AccountLevelMatch') {
    out.push('principal does not match');
  }
  return out.join('; ');
}

// describe explains one policy kind's analysis: the statements that
// allowed or denied, or, when none applied, those whose action matched.
function describe(kind, analysis, out) {
  if (!analysis) return;
  for (const s of analysis.denyStatements ?? []) {
    out.push(`${kind} policy ${s.policyId ?? ''} statement ${sid(s.explain)} denies`.replace('  ', ' '));
  }
  for (const s of analysis.allowStatements ?? []) {
    out.push(`${kind} policy ${s.policyId ?? ''} statement ${sid(s.explain)} allows`.replace('  ', ' '));
  }
  if ((analysis.allowStatements ?? []).length > 0 || (analysis.denyStatements ?? []).length > 0) return;
  const near = (analysis.unmatchedStatements ?? []).filter((s) => s.explain.actionMatch && s.explain.effect === 'Allow');
  if (near.length === 0) {
    out.push(`no ${kind} statement allows the action (${analysis.result})`);
    return;
  }
  for (const s of near) {
    out.push(`${kind} policy ${s.policyId ?? ''} statement ${sid(s.explain)} does not apply: ${why(s.explain)}`.replace('  ', ' '));
  }
}

function grants(analysis) {
  const out = [];
  for (const g of sim.getGrantReasons(analysis)) {
    out.push({ policy: g.policyType === 'identity' ? g.policyIdentifier : g.policyType, sid: String(g.statementId ?? g.statementIndex) });
  }
  return out;
}

const results = [];
for (const r of requests) {
  const simulation = {
    identityPolicies: r.identityPolicies ?? [],
    resourcePolicy: r.resourcePolicy ?? undefined,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      principal: r.principal,
      action: r.action,
      resource: { resource: r.resource, accountId: r.accountId },
      contextVariables: r.context ?? {},
    },
  };
  let res;
  try {
    res = await sim.runSimulation(simulation, { simulationMode: 'Strict' });
  } catch (e) {
    results.push({ decision: 'Invalid', explanation: `the simulator failed: ${e && e.message}` });
    continue;
  }
  if (res.resultType === 'error') {
    const { message, ...details } = res.errors;
    const extra = Object.keys(details).length > 0 ? ' ' + JSON.stringify(details) : '';
    results.push({ decision: 'Invalid', explanation: `${message}${extra}` });
    continue;
  }
  const runs = res.resultType === 'single' ? [res.result] : res.results;
  const out = [];
  const ignored = new Set();
  let resourceType = '';
  let granted = [];
  for (const run of runs) {
    const a = run.analysis;
    if (runs.length > 1) out.push(`[${run.resourcePattern}: ${a.result}]`);
    describe('identity', a.identityAnalysis, out);
    const identityAllows = a.identityAnalysis?.result === 'Allowed';
    const ra = a.resourceAnalysis;
    if (r.resourcePolicy && ra && ((ra.allowStatements ?? []).length > 0 || (ra.denyStatements ?? []).length > 0)) {
      describe('resource', ra, out);
    } else if (a.result !== 'Allowed' && identityAllows) {
      // Only a resource policy the service requires (a KMS key policy)
      // denies what the identity policy allows.
      out.push(r.resourcePolicy
        ? 'the resource policy allows nothing here, and the service requires it to (KMS always consults the key policy)'
        : 'no resource policy was given, and the service requires one to allow (KMS always consults the key policy)');
    }
    if ((a.blockedBy ?? []).length > 0) out.push(`blocked by ${a.blockedBy.join(', ')}`);
    for (const k of run.ignoredContextKeys ?? []) ignored.add(k);
    resourceType = resourceType || run.resourceType || '';
    if (a.result === 'Allowed') granted = granted.concat(grants(a));
  }
  if (ignored.size > 0) out.push(`context keys that do not apply to the action, ignored: ${[...ignored].join(', ')}`);
  results.push({
    decision: res.overallResult,
    explanation: out.join('; '),
    ignoredContextKeys: [...ignored],
    resourceType,
    grants: granted,
  });
}
process.stdout.write(JSON.stringify(results));

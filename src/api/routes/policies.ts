/**
 * Policy routes: read and write the AIJobQueue, ComputeCluster and TenantPolicy resources with the
 * same documents as `kubectl apply` (or just `{spec}`).
 *
 *   GET    /v1/clusters, /v1/tenants              200 {items}   (GET /v1/queues is the queue-state view)
 *   GET    /v1/{queues|clusters|tenants}/{name}    200 document, 404
 *   PUT    /v1/{queues|clusters|tenants}/{name}    201 created, 200 replaced (the stored document), 400
 *   DELETE /v1/{queues|clusters|tenants}/{name}    204, 404 when there is no such object
 *
 * Reads are served from the policy cache (kept by the watch and by this replica's own writes); writes
 * go to the cluster, which is the store, so any replica may take them (no leadership needed). Writes
 * need `Authorization: Bearer <RUNWAY_ADMIN_TOKEN>` when that is set (401 otherwise).
 *
 * The default queue always exists: with no object, GET /v1/queues/default answers the implicit direct
 * queue (a document without uid or resourceVersion), and deleting its object (204) brings that back.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { isClusterError } from '../../cluster/types.js';
import { withDeadline } from '../../controller/job-service.js';
import { errors, RunwayError } from '../../core/errors.js';
import type { ObjectMeta } from '../../core/k8s.js';
import { parsePolicy, parsePolicyName, POLICY_DOCUMENT_SCHEMAS } from '../../core/policy-validation.js';
import {
  DEFAULT_QUEUE_NAME,
  POLICY_API_VERSION,
  POLICY_SPEC_SCHEMAS,
  type PolicyKind,
  type PolicyResource,
} from '../../core/policy.js';
import type { AppDeps } from '../app.js';
import { ErrorSchema } from '../schemas.js';

/** How each kind appears in the API: its path segment, and whether this file serves its list. */
export const POLICY_ROUTES: ReadonlyArray<{ kind: PolicyKind; path: string; noun: string; list: boolean }> = [
  // GET /v1/queues lists queues with their live state: it belongs to the queue views, not here.
  { kind: 'AIJobQueue', path: 'queues', noun: 'queue', list: false },
  { kind: 'ComputeCluster', path: 'clusters', noun: 'compute cluster', list: true },
  { kind: 'TenantPolicy', path: 'tenants', noun: 'tenant policy', list: true },
];

/** The security scheme of policy writes in the OpenAPI document. */
export const ADMIN_SECURITY_SCHEME = 'adminToken';

/** A stored policy as the API shows it: the resource, without server bookkeeping such as managedFields. */
export interface PolicyDocument {
  apiVersion: typeof POLICY_API_VERSION;
  kind: PolicyKind;
  metadata: Pick<ObjectMeta, 'name' | 'uid' | 'resourceVersion' | 'generation' | 'creationTimestamp' | 'labels' | 'annotations'>;
  spec: PolicyResource['spec'];
  status?: Record<string, unknown>;
}

export function policyDocument(obj: PolicyResource): PolicyDocument {
  const m = obj.metadata;
  const metadata: PolicyDocument['metadata'] = { name: m.name };
  if (m.uid !== undefined) metadata.uid = m.uid;
  if (m.resourceVersion !== undefined) metadata.resourceVersion = m.resourceVersion;
  if (m.generation !== undefined) metadata.generation = m.generation;
  if (m.creationTimestamp !== undefined) metadata.creationTimestamp = m.creationTimestamp;
  if (m.labels !== undefined) metadata.labels = m.labels;
  if (m.annotations !== undefined) metadata.annotations = m.annotations;
  const doc: PolicyDocument = { apiVersion: POLICY_API_VERSION, kind: obj.kind, metadata, spec: obj.spec ?? {} };
  if (obj.status !== undefined) doc.status = obj.status;
  return doc;
}

/** The default queue when no object defines it: v1's direct queue. */
const IMPLICIT_DEFAULT_QUEUE: PolicyDocument = Object.freeze({
  apiVersion: POLICY_API_VERSION,
  kind: 'AIJobQueue',
  metadata: Object.freeze({ name: DEFAULT_QUEUE_NAME }),
  spec: Object.freeze({ admission: 'direct' as const }),
});

function documentSchema(kind: PolicyKind) {
  return Type.Object(
    {
      apiVersion: Type.Literal(POLICY_API_VERSION),
      kind: Type.Literal(kind),
      metadata: Type.Object({
        name: Type.String(),
        uid: Type.Optional(Type.String()),
        resourceVersion: Type.Optional(Type.String()),
        generation: Type.Optional(Type.Integer()),
        creationTimestamp: Type.Optional(Type.String()),
        labels: Type.Optional(Type.Record(Type.String(), Type.String())),
        annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
      }),
      spec: POLICY_SPEC_SCHEMAS[kind],
      status: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    },
    { description: `a stored ${kind}` },
  );
}

const NameParamsSchema = Type.Object({ name: Type.String() });

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Throws UNAUTHORIZED unless the request carries the admin token (when one is configured). */
function requireAdmin(adminToken: string | undefined, request: FastifyRequest, reply: FastifyReply): void {
  if (adminToken === undefined) return;
  const header = request.headers.authorization;
  const given = typeof header === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)?.[1] : undefined;
  if (given === undefined) {
    void reply.header('WWW-Authenticate', 'Bearer realm="runway"');
    throw errors.unauthorized('policy writes need the admin token: send Authorization: Bearer <RUNWAY_ADMIN_TOKEN>');
  }
  // Digests compare in constant time whatever the lengths.
  if (!timingSafeEqual(sha256(given), sha256(adminToken))) {
    void reply.header('WWW-Authenticate', 'Bearer realm="runway", error="invalid_token"');
    throw errors.unauthorized('the bearer token is not the admin token');
  }
}

/** A cluster failure of a policy write, as the API answers it. */
function writeError(err: unknown, what: string): unknown {
  if (!isClusterError(err)) return err;
  // The API server refused what Runway's own validation let through (e.g. a CRD older than Runway).
  if (err.kind === 'Invalid') return errors.invalidRequest('spec', `the cluster refused the ${what}: ${err.message}`);
  if (err.kind === 'Conflict') return errors.conflict(`the ${what} was changed by another writer meanwhile; retry: ${err.message}`);
  return errors.clusterUnavailable(err.message);
}

export function registerPolicyRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { cluster, policies, config } = deps;
  const deadline = <T>(p: Promise<T>, what: string) => withDeadline(p, config.clusterTimeoutMs, what);

  for (const { kind, path, noun, list } of POLICY_ROUTES) {
    const stored = documentSchema(kind);
    const errorResponses = { 400: ErrorSchema, 404: ErrorSchema };
    const writeResponses = { 401: ErrorSchema, 409: ErrorSchema, 503: ErrorSchema };
    const security = [{ [ADMIN_SECURITY_SCHEME]: [] }];

    if (list) {
      app.get(
        `/v1/${path}`,
        {
          schema: {
            tags: ['policies'],
            summary: `List ${kind}s`,
            response: { 200: Type.Object({ items: Type.Array(stored) }) },
          },
        },
        async () => ({ items: policies.list(kind).map(policyDocument) }),
      );
    }

    app.get(
      `/v1/${path}/:name`,
      {
        schema: {
          tags: ['policies'],
          summary: `Get a ${kind}`,
          description: kind === 'AIJobQueue' ? 'The default queue always answers: without an object, the implicit direct queue.' : undefined,
          params: NameParamsSchema,
          response: { 200: stored, ...errorResponses },
        },
      },
      async (request) => {
        const name = parsePolicyName(kind, (request.params as { name?: unknown }).name);
        const obj = policies.get(kind, name);
        if (obj) return policyDocument(obj);
        if (kind === 'AIJobQueue' && name === DEFAULT_QUEUE_NAME) return IMPLICIT_DEFAULT_QUEUE;
        throw errors.notFound(noun, name);
      },
    );

    app.put(
      `/v1/${path}/:name`,
      {
        schema: {
          tags: ['policies'],
          summary: `Create or replace a ${kind}`,
          description:
            `The body is the ${kind} document as for kubectl apply (apiVersion ${POLICY_API_VERSION}, kind ${kind}, metadata.name, spec), ` +
            'or just {spec}. A kind, apiVersion or metadata.name that disagrees with the path, or an invalid spec, is a 400 naming the field. ' +
            'Answers 201 with the stored document when the object was created, 200 when it was replaced. ' +
            'Needs Authorization: Bearer <RUNWAY_ADMIN_TOKEN> when that is set.',
          params: NameParamsSchema,
          body: POLICY_DOCUMENT_SCHEMAS[kind],
          security,
          response: { 200: stored, 201: stored, ...errorResponses, ...writeResponses },
        },
      },
      async (request, reply) => {
        requireAdmin(config.adminToken, request, reply);
        const name = parsePolicyName(kind, (request.params as { name?: unknown }).name);
        const obj = parsePolicy(kind, name, request.body);
        const before = policies.get(kind, name);
        let result: PolicyResource;
        try {
          result = await deadline(cluster.putPolicy(obj), `writing ${kind} ${name}`);
        } catch (err) {
          throw writeError(err, `${kind} ${name}`);
        }
        policies.apply(result);
        const created = !before || before.metadata.uid !== result.metadata.uid;
        void reply.header('Location', `/v1/${path}/${name}`);
        return reply.code(created ? 201 : 200).send(policyDocument(result));
      },
    );

    app.delete(
      `/v1/${path}/:name`,
      {
        schema: {
          tags: ['policies'],
          summary: `Delete a ${kind}`,
          description:
            'Answers 204, or 404 when there is no such object (so a second delete is a 404).' +
            (kind === 'AIJobQueue' ? ' Deleting the default queue\'s object brings back the implicit direct default queue.' : '') +
            ' Needs Authorization: Bearer <RUNWAY_ADMIN_TOKEN> when that is set.',
          params: NameParamsSchema,
          security,
          response: { 204: Type.Null({ description: 'deleted' }), ...errorResponses, ...writeResponses },
        },
      },
      async (request, reply) => {
        requireAdmin(config.adminToken, request, reply);
        const name = parsePolicyName(kind, (request.params as { name?: unknown }).name);
        const before = policies.get(kind, name);
        let deleted: boolean;
        try {
          deleted = await deadline(cluster.deletePolicy(kind, name), `deleting ${kind} ${name}`);
        } catch (err) {
          throw writeError(err, `${kind} ${name}`);
        }
        if (!deleted) {
          if (kind === 'AIJobQueue' && name === DEFAULT_QUEUE_NAME) {
            throw new RunwayError('NOT_FOUND', 'queue default has no object to delete: without one it is the implicit direct queue', {
              kind: noun,
              id: name,
            });
          }
          throw errors.notFound(noun, name);
        }
        policies.forget(kind, name, before?.metadata.resourceVersion);
        return reply.code(204).send();
      },
    );
  }
}

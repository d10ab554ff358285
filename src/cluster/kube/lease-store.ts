/** A coordination.k8s.io/v1 Lease as the LeaseStore of leader election. */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { LeaseRecord, LeaseStore } from '../../controller/leader-election.js';
import { ClusterError } from '../types.js';
import { toClusterError } from './errors.js';

export class KubeLeaseStore implements LeaseStore {
  private readonly api: CoordinationV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
  ) {
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
  }

  async get(): Promise<{ record: LeaseRecord; version: string } | undefined> {
    try {
      const lease = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
      const s = lease.spec ?? {};
      return {
        record: {
          holderIdentity: s.holderIdentity ?? '',
          leaseDurationSeconds: s.leaseDurationSeconds ?? 15,
          acquireTime: s.acquireTime ? new Date(s.acquireTime).getTime() : 0,
          renewTime: s.renewTime ? new Date(s.renewTime).getTime() : 0,
          leaseTransitions: s.leaseTransitions ?? 0,
        },
        version: lease.metadata?.resourceVersion ?? '',
      };
    } catch (err) {
      const e = toClusterError(err, `reading Lease ${this.name}`);
      if (e.kind === 'NotFound') return undefined;
      throw e;
    }
  }

  private body(record: LeaseRecord, version?: string): V1Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, ...(version ? { resourceVersion: version } : {}) },
      spec: {
        holderIdentity: record.holderIdentity,
        leaseDurationSeconds: record.leaseDurationSeconds,
        acquireTime: new V1MicroTime(record.acquireTime),
        renewTime: new V1MicroTime(record.renewTime),
        leaseTransitions: record.leaseTransitions,
      },
    };
  }

  async create(record: LeaseRecord): Promise<void> {
    try {
      await this.api.createNamespacedLease({ namespace: this.namespace, body: this.body(record) });
    } catch (err) {
      throw toClusterError(err, `creating Lease ${this.name}`);
    }
  }

  async update(record: LeaseRecord, version: string): Promise<void> {
    if (!version) throw new ClusterError('Conflict', 'Lease has no resourceVersion');
    try {
      await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: this.body(record, version) });
    } catch (err) {
      throw toClusterError(err, `updating Lease ${this.name}`);
    }
  }
}

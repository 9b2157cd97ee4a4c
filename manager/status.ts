/** What a yurt-manager replica says about itself on /healthz and /readyz. */
import type { Probe } from '../lib/ops.js';

export interface ManagerStatus {
  /** Informer caches synced: the replica can lead, or stand by ready to. */
  ready: boolean;
  role: 'leader' | 'standby' | 'single';
  leader: string;
  /** False if the replica believes it leads but its lease has not been renewed for too long. */
  healthy: boolean;
}

/**
 * A leader that can no longer renew its lease must be restarted (another replica may already act),
 * so that is the liveness failure; readiness says which role the replica plays, so a standby's
 * /readyz names the leader.
 */
export function managerProbes(status: () => ManagerStatus): { health: () => Probe; readiness: () => Probe } {
  return {
    health: () => (status().healthy ? { ok: true } : { ok: false, detail: 'leading, but the lease has not been renewed in time' }),
    readiness: () => {
      const s = status();
      const role = s.role === 'standby' ? `standing by (leader: ${s.leader || 'none'})` : s.role === 'leader' ? 'leading' : 'acting (no leader election)';
      return s.ready ? { ok: true, detail: role } : { ok: false, detail: `informer caches not synced; ${role}` };
    },
  };
}

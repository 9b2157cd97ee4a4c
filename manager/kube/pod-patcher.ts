/** Applies the controller's pod patches: JSON merge patches whose resourceVersion is a precondition. */
import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import { PatchFailure, type PodPatch, type PodPatcher } from '../autonomy/controller.js';

export class KubePodPatcher implements PodPatcher {
  constructor(private readonly api: CoreV1Api) {}

  async patch(namespace: string, name: string, body: PodPatch): Promise<void> {
    try {
      await this.api.patchNamespacedPod({ namespace, name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const status = typeof code === 'number' ? code : 0;
      let text = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      const raw = (err as { body?: unknown }).body;
      if (typeof raw === 'string') {
        try {
          text = (JSON.parse(raw) as { message?: string }).message ?? text;
        } catch {
          // not a Status body
        }
      }
      throw new PatchFailure(status, text);
    }
  }
}

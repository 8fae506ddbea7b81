// Tcp apps whose router.port another process holds are left out of the build (see port-probe.ts).
import { finishRejections, reject } from '../model/rejections.js';
import type { RoutingModel } from '../model/types.js';
import { boundPorts, portInUse } from './port-probe.js';

/**
 * Leaves out, with a conflict rejection, every tcp app whose router.port another process holds on
 * this host. Reloading onto such a port fails after `haproxy -c` passed, and HAProxy 2.6 retries
 * that bind for ~2 s with the running worker's listeners paused (no app accepts connections): one
 * app's port must neither block the other changes nor cost an outage per attempt. Ports of the
 * running configuration belong to HAProxy and are not probed. `leftOut`: probe again later.
 */
export async function withoutBusyPorts(
  model: RoutingModel,
  runningConfig: string | Set<number>,
  bindAddress: string,
): Promise<{ model: RoutingModel; leftOut: boolean }> {
  // The ports themselves when the caller knows them from the running build: no read of the text.
  const running = typeof runningConfig === 'string' ? boundPorts(runningConfig) : runningConfig;
  const busy: RoutingModel['apps'] = [];
  for (const app of model.apps) {
    if (app.mode !== 'tcp' || app.port === undefined || running.has(app.port)) continue;
    if (await portInUse(bindAddress, app.port)) busy.push(app);
  }
  if (busy.length === 0) return { model, leftOut: false };
  const left = new Set(busy.map((a) => a.name));
  const rejections = busy.map((a) =>
    reject(
      'conflict',
      a.name,
      `router.port=${a.port}`,
      `router.port: port ${a.port} is in use by another process on this host; the app is routed once the port is free`,
    ),
  );
  return {
    model: { ...model, apps: model.apps.filter((a) => !left.has(a.name)), rejections: finishRejections([...model.rejections, ...rejections]) },
    leftOut: true,
  };
}

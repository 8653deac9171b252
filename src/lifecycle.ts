// Where an instance is in its life, for /healthz/ready: only `ready` takes traffic.
// `starting` until every part is wired (server.ts), `draining` from the stop signal on.
export interface Lifecycle {
  state: 'starting' | 'ready' | 'draining';
}

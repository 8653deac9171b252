// Shared state across instances, proven: three instances on one database behind a
// round-robin proxy (no sticky sessions), each request landing on the next instance.
import { expect } from 'chai';
import { createUser } from '../../src/accounts/users.ts';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { Agent } from '../helpers/agent.ts';
import { confidentialClient, discover, signIn } from '../helpers/rp.ts';

describe('three instances behind a round-robin proxy', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  const web = confidentialClient();
  const email = 'ada@example.com';
  const password = 'correct horse battery staple';

  before(async () => {
    cluster = await startCluster(3, { clients: [web] });
    await createUser(cluster.instances[0]!.deps, { email, password, name: 'Ada Lovelace' });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('completes one code flow whose requests each land on a different instance', async () => {
    const config = await discover(cluster.url, web);
    const before = cluster.proxy.forwarded.length;
    const { tokens } = await signIn(config, new Agent(), email, password);
    expect(tokens.claims()!.iss).to.equal(cluster.url);
    const hops = cluster.proxy.forwarded.slice(before);
    expect(new Set(hops).size, 'instances used').to.equal(3);
    for (let i = 1; i < hops.length; i++) expect(hops[i], 'consecutive requests on different instances').to.not.equal(hops[i - 1]);
  });
});

import { startCluster } from './src/cluster.js';
const c = await startCluster((process.env.B ?? 'nats') as 'nats', { timeoutMs: 60000 }).catch((e) => { console.log(String(e)); return undefined; });
if (c) { const t=Date.now(); console.log('members', await c.members()); await c.close(); }

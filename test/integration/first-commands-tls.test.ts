// Proves the first-commands compatibility tests (test/integration/first-commands.test.ts) all pass
// over TLS: the same file with the harness in TLS mode; redis-cli --tls against raftis must print
// exactly what plain redis-cli prints against a real redis-server.
process.env.RAFTIS_IT_TLS = '1';
await import('./first-commands.test.js');

import { engineApiSuite } from '@berth/testkit';
import { FakeEngine } from './support/fake-engine.js';

// The fake behind the HTTP tests keeps the EngineApi contract the real engine keeps
// (packages/engine/test/engine-api-contract.test.ts): the HTTP layer is tested against
// what the engine really does, not against what the fake happens to do.
engineApiSuite('fake engine', async () => ({ engine: new FakeEngine(), cleanup: async () => {} }));

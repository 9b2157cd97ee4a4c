import { MemoryCacheStore } from './memory-store.js';
import { runCacheStoreContract } from './testing/store-contract.js';

runCacheStoreContract('MemoryCacheStore', () => new MemoryCacheStore());

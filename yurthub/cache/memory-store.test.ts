import { MemoryCacheStore } from './memory-store.js';
import { runCacheStoreContract } from './store-contract.js';

runCacheStoreContract('MemoryCacheStore', () => new MemoryCacheStore());

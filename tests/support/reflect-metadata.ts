/**
 * The part of the Reflect metadata proposal that tsyringe calls (defineMetadata, getMetadata,
 * getOwnMetadata, metadata), installed only when absent. Test-only: see ./x509.ts for why.
 */
type Store = Map<unknown, unknown>;
const stores = new WeakMap<object, Map<string | symbol | undefined, Store>>();

function own(target: object, property: string | symbol | undefined, create: boolean): Store | undefined {
  let byProperty = stores.get(target);
  if (!byProperty && create) stores.set(target, (byProperty = new Map()));
  let store = byProperty?.get(property);
  if (!store && create && byProperty) byProperty.set(property, (store = new Map()));
  return store;
}

const api = {
  defineMetadata(key: unknown, value: unknown, target: object, property?: string | symbol): void {
    own(target, property, true)!.set(key, value);
  },
  getOwnMetadata(key: unknown, target: object, property?: string | symbol): unknown {
    return own(target, property, false)?.get(key);
  },
  getMetadata(key: unknown, target: object, property?: string | symbol): unknown {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      const store = own(t, property, false);
      if (store?.has(key)) return store.get(key);
    }
    return undefined;
  },
  metadata(key: unknown, value: unknown) {
    return (target: object, property?: string | symbol) => api.defineMetadata(key, value, target, property);
  },
};

const R = Reflect as unknown as Record<string, unknown>;
for (const [name, fn] of Object.entries(api)) if (typeof R[name] !== 'function') R[name] = fn;

/**
 * @peculiar/x509 for tests, with the one thing it needs that is not a dependency: tsyringe (inside
 * @peculiar/x509) refuses to load without a Reflect metadata API. This module installs a minimal one
 * (own-metadata per object and key, prototype chain for getMetadata) before @peculiar/x509 loads;
 * import x509 from here, never from '@peculiar/x509' directly.
 */
import './reflect-metadata.ts';
export * from '@peculiar/x509';

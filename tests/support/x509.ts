/**
 * @peculiar/x509 for tests. It builds on tsyringe, which refuses to load without the Reflect metadata
 * API: the `reflect-metadata` package (a dev dependency) installs it first. Import x509 from here,
 * never from '@peculiar/x509' directly.
 */
import 'reflect-metadata';
export * from '@peculiar/x509';

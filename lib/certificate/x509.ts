/**
 * The one door to @peculiar/x509: it loads tsyringe, which needs the Reflect metadata polyfill in
 * place first, and ES module evaluation order guarantees that here.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export { x509 };

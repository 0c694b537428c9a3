export { authPlugin, HEALTH_PATHS, requiredRole, type AuthPluginOptions } from './auth-plugin.js';
export { AuthUnavailableError, Role, type Authenticator, type Identity } from './identity.js';
export { parseStaticTokens, StaticTokenAuthenticator, type StaticTokenOptions } from './static-tokens.js';
export { TokenReviewAuthenticator, type TokenReviewOptions, IN_CLUSTER_CA_FILE, IN_CLUSTER_TOKEN_FILE } from './token-review.js';
export { checkListenSecurity, isLoopbackHost } from './listen-check.js';
export { httpsServerOptions, loadTlsKeyPair, startTlsReloader, type TlsFiles, type TlsKeyPair, type TlsReloaderOptions } from './tls.js';
export {
  AUTH_CONFIG_SCHEMA,
  authConfigured,
  checkAuthConfig,
  createAuthenticators,
  DEFAULT_AUTH_CONFIG,
  DEFAULT_TLS_CONFIG,
  TLS_CONFIG_SCHEMA,
  type AuthConfig,
  type TlsConfig,
} from './config.js';

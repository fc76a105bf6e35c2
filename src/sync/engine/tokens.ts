// Access tokens for the clients, from the store: refreshed ahead of expiry and after a 401, one refresh at a time
// per connection and side across processes (the store's lock), the rotated refresh token saved in the same
// transaction. A refusal of the refresh token, or no tokens at all, means the user must reconnect that side: the
// side is marked on the connection (revoked), its jobs stop and wait, and the error says which side to reconnect.
import {
  PROVIDER_NAME as PROVIDER,
  type ConnectionRepository,
  type OAuthTokens,
  type Side,
} from '../../store/connections.ts';

export class ConnectionRevokedError extends Error {
  override readonly name = 'ConnectionRevokedError';
  constructor(
    readonly connectionId: string,
    readonly side: Side,
    reason: string,
  ) {
    super(reason);
  }
}

export interface TokenSourceOptions {
  connections: ConnectionRepository;
  connectionId: string;
  side: Side;
  /** Exchanges a refresh token for new tokens (the provider's OAuth client). */
  refresh: (refreshToken: string) => Promise<OAuthTokens>;
  /** True when the provider refused the refresh token for good (invalid_grant). */
  isRefusal: (error: unknown) => boolean;
  /** Refresh this long before expiry (default 5 minutes). */
  marginMs?: number;
  now?: () => number;
}

export class StoredTokenSource {
  private cached: OAuthTokens | undefined;

  constructor(private readonly options: TokenSourceOptions) {}

  async accessToken(): Promise<string> {
    const now = this.options.now?.() ?? Date.now();
    const margin = this.options.marginMs ?? 5 * 60_000;
    if (!this.cached || this.expiresSoon(this.cached, now, margin)) {
      this.cached = await this.options.connections.readTokens(this.options.connectionId, this.options.side);
      if (!this.cached) {
        // Marked on the connection too, so that it no longer reads "connected": its jobs then wait for the reconnect
        // (one open entry each) instead of going straight back on the queue.
        const revoked = this.revoked(
          `no ${PROVIDER[this.options.side]} tokens are stored; reconnect ${PROVIDER[this.options.side]} from the connection's card`,
        );
        await this.options.connections.markRevoked(
          this.options.connectionId,
          this.options.side,
          undefined,
          `Needs ${PROVIDER[this.options.side]} reconnect: ${revoked.message}`,
        );
        throw revoked;
      }
      if (this.expiresSoon(this.cached, now, margin))
        this.cached = await this.refresh((current) => this.expiresSoon(current, now, margin));
    }
    return this.cached.accessToken;
  }

  /** After a 401: refresh unless another process already replaced the token that failed. */
  async refreshAfterUnauthorized(): Promise<string> {
    const failed = this.cached?.accessToken;
    this.cached = await this.refresh((current) => current.accessToken === failed || failed === undefined);
    return this.cached.accessToken;
  }

  private expiresSoon(tokens: OAuthTokens, now: number, margin: number): boolean {
    return new Date(tokens.accessExpiresAt).getTime() - margin <= now;
  }

  private async refresh(needed: (current: OAuthTokens) => boolean): Promise<OAuthTokens> {
    const { connections, connectionId, side } = this.options;
    let tried: OAuthTokens | undefined;
    try {
      return await connections.refreshUnderLock(connectionId, side, async (current) => {
        if (!needed(current)) return undefined;
        tried = current;
        if (!current.refreshToken)
          throw this.revoked(
            `the ${PROVIDER[side]} access token expired and there is no refresh token; reconnect ${PROVIDER[side]}`,
          );
        return this.options.refresh(current.refreshToken);
      });
    } catch (error) {
      const revoked =
        error instanceof ConnectionRevokedError
          ? error
          : this.options.isRefusal(error)
            ? this.revoked(
                `${PROVIDER[side]} refused the refresh token (it was revoked, expired or used elsewhere); reconnect ${PROVIDER[side]} from the connection's card`,
              )
            : undefined;
      if (!revoked) throw error;
      // Tokens saved by a reconnect meanwhile are not revoked by the refusal of the ones tried here.
      if (tried)
        await connections.markRevoked(
          connectionId,
          side,
          tried,
          `Needs ${PROVIDER[side]} reconnect: ${revoked.message}`,
        );
      throw revoked;
    }
  }

  private revoked(reason: string): ConnectionRevokedError {
    return new ConnectionRevokedError(this.options.connectionId, this.options.side, reason);
  }
}

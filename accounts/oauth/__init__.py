"""OAuth2 for upstream mail accounts: admin-registered clients, the authorization code
flow with PKCE, encrypted tokens refreshed before they expire, XOAUTH2/OAUTHBEARER login,
and the "reconnect needed" state when a grant is revoked or expires."""

"""Who is calling: credentials (passwords, tokens, API keys) and the principal a credential
names. No routes here; the HTTP side checks callers with it (`app.web.access`)."""

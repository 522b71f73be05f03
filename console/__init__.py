"""The Webhooks page: a web console served by `webhooks api` under /console, rendered on the
server from the same services as the HTTP API, so it applies the same rules and messages."""

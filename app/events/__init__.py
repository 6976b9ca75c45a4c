"""Telling the world what changed: the transactional outbox, webhooks and their worker."""

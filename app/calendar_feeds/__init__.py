"""Practitioners' calendar feeds (RFC 5545): a secret URL a calendar app subscribes to."""

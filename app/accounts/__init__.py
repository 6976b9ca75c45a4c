"""Staff accounts, integration keys and logging in."""

"""api: HTTP. Parse, authorise, call a service function, answer. Never imports worker."""

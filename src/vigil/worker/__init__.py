"""worker: claims jobs and runs them (evaluation now; delivery and imports as they land).
Imports service and store; the api never imports worker."""

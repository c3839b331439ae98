"""The client's resources: `client.data`, `.policies`, `.lists`, `.webhooks`, each in a sync
and an async class over the same `Call` builders."""

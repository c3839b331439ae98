"""service: the use cases. Each owns its transaction and calls store functions inside it.
Used by api, worker and cli; imports store, engine and errors."""

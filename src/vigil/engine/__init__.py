"""engine: policy evaluation as pure functions. No I/O but what fetchers pass in; imports
nothing of ours but its own models."""

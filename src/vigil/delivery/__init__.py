"""delivery: webhook signing, sending and the retry schedule. Used by the worker's dispatcher;
imports nothing of ours but `vigil.errors`."""

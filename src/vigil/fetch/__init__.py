"""fetch: SSRF-safe HTTP fetching of the URLs in objects (images for the image-hash detector).

Used by the evaluation service; imports nothing of ours but the engine's image hashing.
Every connection, the first and each redirect's, goes through `guard.py`: the host is
resolved once, every address it resolves to is checked, and the socket connects to the
checked address, so a DNS answer cannot change between the check and the connection.
"""

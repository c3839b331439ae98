"""blobs: where import uploads and result files live.

One small interface (`base.BlobStore`) with two implementations: a local folder (`local.py`,
the default) and S3-compatible object storage (`s3.py`, `VIGIL_BLOB_URL=s3://bucket/prefix`).
`signing.py` signs the URLs Vigil serves itself; `lines.py` turns a stored upload back into
numbered lines, gzip or not. Used by service/imports.py and service/results.py; imports
nothing of ours but errors.
"""

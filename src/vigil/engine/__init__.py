"""engine: policy evaluation as pure functions; used by service (evaluation, policies, lists)
and by fetch (image hashing); imports nothing of ours from outside engine/.

No I/O: the caller passes in the previous version, the parent objects and the fetched,
hashed images. The path of one object:

    document.parse       YAML/JSON text → plain JSON document
    policy.compile_policy document + named lists → CompiledPolicy (checked, every problem
                         under its path; CEL compiled once, via expr.py, template.py, flatten.py)
    text.ObjectView      the object's text and URL fields, folded once (normalize.py)
    detectors/*.py       one file per detector kind → Hits
    evaluate.evaluate    conditions, outputs (labels, actions, fields) and provenance
"""

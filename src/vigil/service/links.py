"""Links Vigil hands out. The review console (ui/) serves them once it lands."""

from urllib.parse import quote


def object_url(base_url: str, namespace: str, object_id: str, version: int) -> str:
    return f"{base_url.rstrip('/')}/ui/namespaces/{namespace}/objects/{quote(object_id, safe='')}?version={version}"

"""`client.policies` [Vigil extension]: a namespace's policy (YAML or JSON), its versions,
and dry runs that store nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from vigil.client._calls import Call, path
from vigil.client._config import NOT_GIVEN, NotGiven
from vigil.client.types.policies import DryRun, Policy, PolicyUpdated, PolicyVersions

if TYPE_CHECKING:
    from vigil.client._async_client import AsyncVigil
    from vigil.client._client import Vigil

__all__ = ["AsyncPolicies", "Policies"]

PolicyDocument = str | Mapping[str, Any]  # YAML text, or the document as a mapping (sent as JSON)


def _update(namespace: str, policy: PolicyDocument) -> Call[PolicyUpdated]:
    url = path("/v1/data/{}/policy", namespace)
    if isinstance(policy, str):
        return Call("PUT", url, PolicyUpdated, content=policy.encode(), content_type="application/yaml")
    return Call("PUT", url, PolicyUpdated, json=dict(policy))


def _get(namespace: str) -> Call[Policy]:
    return Call("GET", path("/v1/data/{}/policy", namespace), Policy)


def _list_versions(namespace: str) -> Call[PolicyVersions]:
    return Call("GET", path("/v1/data/{}/policy/versions", namespace), PolicyVersions)


def _get_version(namespace: str, version: int) -> Call[Policy]:
    return Call("GET", path("/v1/data/{}/policy/versions/{}", namespace, version), Policy)


def _dry_run(
    namespace: str,
    data: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    policy: PolicyDocument | NotGiven,
    previous: Mapping[str, Any] | NotGiven,
) -> Call[DryRun]:
    body: dict[str, Any] = {"data": dict(data) if isinstance(data, Mapping) else list(data)}
    if not isinstance(policy, NotGiven):
        body["policy"] = policy if isinstance(policy, str) else dict(policy)
    if not isinstance(previous, NotGiven):
        body["previous"] = dict(previous)
    return Call("POST", path("/v1/data/{}/policy/test", namespace), DryRun, json=body)


class Policies:
    def __init__(self, client: Vigil) -> None:
        self._client = client

    def update(self, namespace: str, policy: PolicyDocument) -> PolicyUpdated:
        """Store a policy as the namespace's next version: YAML text, or a mapping (sent as JSON).
        The same document again answers `status="unchanged"`."""
        return self._client._call(_update(namespace, policy))

    def get(self, namespace: str) -> Policy:
        return self._client._call(_get(namespace))

    def list_versions(self, namespace: str) -> PolicyVersions:
        return self._client._call(_list_versions(namespace))

    def get_version(self, namespace: str, version: int) -> Policy:
        return self._client._call(_get_version(namespace, version))

    def dry_run(
        self,
        namespace: str,
        *,
        data: Mapping[str, Any] | Iterable[Mapping[str, Any]],
        policy: PolicyDocument | NotGiven = NOT_GIVEN,
        previous: Mapping[str, Any] | NotGiven = NOT_GIVEN,
    ) -> DryRun:
        """Evaluate objects under the current policy, or the draft `policy`, storing nothing.
        `previous` maps ids to the earlier version a rule compares with (default: the stored one)."""
        return self._client._call(_dry_run(namespace, data, policy, previous))


class AsyncPolicies:
    def __init__(self, client: AsyncVigil) -> None:
        self._client = client

    async def update(self, namespace: str, policy: PolicyDocument) -> PolicyUpdated:
        return await self._client._call(_update(namespace, policy))

    async def get(self, namespace: str) -> Policy:
        return await self._client._call(_get(namespace))

    async def list_versions(self, namespace: str) -> PolicyVersions:
        return await self._client._call(_list_versions(namespace))

    async def get_version(self, namespace: str, version: int) -> Policy:
        return await self._client._call(_get_version(namespace, version))

    async def dry_run(
        self,
        namespace: str,
        *,
        data: Mapping[str, Any] | Iterable[Mapping[str, Any]],
        policy: PolicyDocument | NotGiven = NOT_GIVEN,
        previous: Mapping[str, Any] | NotGiven = NOT_GIVEN,
    ) -> DryRun:
        return await self._client._call(_dry_run(namespace, data, policy, previous))

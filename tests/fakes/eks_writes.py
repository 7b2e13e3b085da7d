"""The EKS write operations moto lacks: add-ons, pod identity associations and DescribeUpdate.

They change the same :class:`fakes.services.FakeState` the read operations serve, so a write is
visible to the next read. Requests and responses are validated against botocore's shapes.
Behaviour follows the EKS API reference: an add-on owns the pod identity associations it was
given (``ownerArn`` = the add-on ARN; replaced as a whole by UpdateAddon, deleted with the add-on
unless ``preserve``), UpdateAddon answers with an ``update`` that DescribeUpdate then reports.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from fakes.services import ClusterExtras, FakeState
from fakes.wire import (
    Request,
    Response,
    error_response,
    json_response,
    rest_params,
    service_model,
    validate,
)

EKS_WRITE_OPERATIONS = frozenset(
    {
        "CreateAddon",
        "UpdateAddon",
        "DeleteAddon",
        "CreatePodIdentityAssociation",
        "UpdatePodIdentityAssociation",
        "DeletePodIdentityAssociation",
        "DescribeUpdate",
    }
)
ADDON_NAMESPACES = {"vpc-cni": "kube-system", "eks-pod-identity-agent": "kube-system"}
DEFAULT_VERSIONS = {"vpc-cni": "v1.19.0-eksbuild.1", "eks-pod-identity-agent": "v1.3.4-eksbuild.1"}


def _error(code: str, status: int, message: str) -> Response:
    return error_response("eks", "invalid", message, code, status)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def handle_eks_write(
    state: FakeState, request: Request, operation: str, account: str, region: str
) -> Response:
    op = service_model("eks").operation_model(operation)
    params = rest_params(request, "eks", operation)
    validate(op, params, output=False)
    cluster = params["name"] if operation == "DescribeUpdate" else params["clusterName"]
    with state.lock:
        extras = state.cluster(account, region, cluster)
        answer = _OPERATIONS[operation](extras, params, account, region)
    if isinstance(answer, Response):
        return answer
    validate(op, answer, output=True)
    return json_response("eks", answer)


def record_update(
    state: FakeState,
    account: str,
    region: str,
    cluster: str,
    update: dict[str, Any],
    about: str,
) -> None:
    """Keep an update another service answered (moto's UpdateNodegroupConfig) for DescribeUpdate."""
    with state.lock:
        state.cluster(account, region, cluster).updates[update["id"]] = (update, about)


# add-ons -------------------------------------------------------------------------------------


def _create_addon(
    extras: ClusterExtras, params: dict[str, Any], account: str, region: str
) -> dict[str, Any] | Response:
    name, cluster = params["addonName"], params["clusterName"]
    if name in extras.addons:
        return _error("ResourceInUseException", 409, f"Addon already exists: {name}")
    arn = f"arn:aws:eks:{region}:{account}:addon/{cluster}/{name}/{uuid.uuid4().hex[:32]}"
    created = _owned_associations(extras, params, arn, name, account, region)
    if isinstance(created, Response):
        return created
    now = _now()
    addon: dict[str, Any] = {
        "addonName": name,
        "clusterName": cluster,
        "status": "ACTIVE",
        "addonVersion": params.get("addonVersion") or DEFAULT_VERSIONS.get(name, "v1.0.0"),
        "health": {"issues": []},
        "addonArn": arn,
        "createdAt": now,
        "modifiedAt": now,
        "tags": params.get("tags", {}),
        "podIdentityAssociations": created,
    }
    for key in ("serviceAccountRoleArn", "configurationValues"):
        if params.get(key):
            addon[key] = params[key]
    extras.addons[name] = addon
    return {"addon": {**addon, "status": "CREATING"}}


def _update_addon(
    extras: ClusterExtras, params: dict[str, Any], account: str, region: str
) -> dict[str, Any] | Response:
    name = params["addonName"]
    addon = extras.addons.get(name)
    if addon is None:
        return _error(
            "ResourceNotFoundException",
            404,
            f"No addon: {name} found in cluster: {params['clusterName']}",
        )
    changes: list[dict[str, str]] = []
    if "podIdentityAssociations" in params:
        kept = [a for a in extras.associations if a.get("ownerArn") != addon["addonArn"]]
        previous = extras.associations
        extras.associations = kept
        created = _owned_associations(extras, params, addon["addonArn"], name, account, region)
        if isinstance(created, Response):
            extras.associations = previous
            return created
        addon["podIdentityAssociations"] = created
        value = json.dumps(params["podIdentityAssociations"], separators=(",", ":"))
        changes.append({"type": "PodIdentityAssociations", "value": value})
    # "If you don't specify an existing IAM role, then the add-on uses the permissions assigned
    # to the node IAM role" (UpdateAddon's serviceAccountRoleArn): leaving it out unsets it
    if params.get("serviceAccountRoleArn"):
        addon["serviceAccountRoleArn"] = params["serviceAccountRoleArn"]
        changes.append({"type": "ServiceAccountRoleArn", "value": params["serviceAccountRoleArn"]})
    elif addon.pop("serviceAccountRoleArn", None) is not None:
        changes.append({"type": "ServiceAccountRoleArn", "value": ""})
    for key, kind in (
        ("addonVersion", "AddonVersion"),
        ("configurationValues", "ConfigurationValues"),
        ("resolveConflicts", "ResolveConflicts"),
    ):
        if key in params:
            if key != "resolveConflicts":
                addon[key] = params[key]
            changes.append({"type": kind, "value": params[key]})
    addon["modifiedAt"] = _now()
    update_id = str(uuid.uuid4())
    update: dict[str, Any] = {
        "id": update_id,
        "status": "InProgress",
        "type": "AddonUpdate",
        "params": changes,
        "createdAt": _now(),
        "errors": [],
    }
    extras.updates[update_id] = ({**update, "status": "Successful"}, name)
    return {"update": update}


def _delete_addon(
    extras: ClusterExtras, params: dict[str, Any], account: str, region: str
) -> dict[str, Any] | Response:
    name = params["addonName"]
    addon = extras.addons.pop(name, None)
    if addon is None:
        return _error(
            "ResourceNotFoundException",
            404,
            f"No addon: {name} found in cluster: {params['clusterName']}",
        )
    owned = [a for a in extras.associations if a.get("ownerArn") == addon["addonArn"]]
    for association in owned:
        if params.get("preserve"):
            del association["ownerArn"]
        else:
            extras.associations.remove(association)
    return {"addon": {**addon, "status": "DELETING"}}


def _owned_associations(
    extras: ClusterExtras,
    params: dict[str, Any],
    owner: str,
    addon: str,
    account: str,
    region: str,
) -> list[str] | Response:
    namespace = ADDON_NAMESPACES.get(addon, "kube-system")
    arns = []
    for wanted in params.get("podIdentityAssociations", []):
        created = _new_association(
            extras,
            {
                "clusterName": params["clusterName"],
                "namespace": namespace,
                "serviceAccount": wanted["serviceAccount"],
                "roleArn": wanted["roleArn"],
            },
            account,
            region,
            owner,
        )
        if isinstance(created, Response):
            return created
        arns.append(created["associationArn"])
    return arns


# pod identity associations -------------------------------------------------------------------


def _new_association(
    extras: ClusterExtras,
    params: dict[str, Any],
    account: str,
    region: str,
    owner: str | None = None,
) -> dict[str, Any] | Response:
    for existing in extras.associations:
        if (existing["namespace"], existing["serviceAccount"]) == (
            params["namespace"],
            params["serviceAccount"],
        ):
            return _error(
                "ResourceInUseException",
                409,
                f"Association already exists: {existing['associationArn']}",
            )
    ident = f"a-{extras.next_association:017d}"
    extras.next_association += 1
    cluster = params["clusterName"]
    now = _now()
    association: dict[str, Any] = {
        "clusterName": cluster,
        "namespace": params["namespace"],
        "serviceAccount": params["serviceAccount"],
        "roleArn": params["roleArn"],
        "associationArn": f"arn:aws:eks:{region}:{account}:podidentityassociation/{cluster}/{ident}",
        "associationId": ident,
        "tags": params.get("tags", {}),
        "createdAt": now,
        "modifiedAt": now,
        "disableSessionTags": bool(params.get("disableSessionTags", False)),
    }
    if params.get("targetRoleArn"):
        association["targetRoleArn"] = params["targetRoleArn"]
    if owner is not None:
        association["ownerArn"] = owner
    extras.associations.append(association)
    return association


def _create_association(
    extras: ClusterExtras, params: dict[str, Any], account: str, region: str
) -> dict[str, Any] | Response:
    created = _new_association(extras, params, account, region)
    return created if isinstance(created, Response) else {"association": dict(created)}


def _find_association(extras: ClusterExtras, params: dict[str, Any]) -> dict[str, Any] | Response:
    for association in extras.associations:
        if association["associationId"] == params["associationId"]:
            if "ownerArn" in association:
                return _error(
                    "InvalidRequestException",
                    400,
                    f"Pod identity association {params['associationId']} is owned by "
                    f"{association['ownerArn']}; change it through its owner.",
                )
            return association
    return _error(
        "ResourceNotFoundException",
        404,
        f"No Pod Identity Association found with id {params['associationId']}",
    )


def _update_association(
    extras: ClusterExtras, params: dict[str, Any], account: str, region: str
) -> dict[str, Any] | Response:
    association = _find_association(extras, params)
    if isinstance(association, Response):
        return association
    for key in ("roleArn", "disableSessionTags"):
        if key in params:
            association[key] = params[key]
    if "targetRoleArn" in params:
        if params["targetRoleArn"]:
            association["targetRoleArn"] = params["targetRoleArn"]
        else:
            association.pop("targetRoleArn", None)
    association["modifiedAt"] = _now()
    return {"association": dict(association)}


def _delete_association(
    extras: ClusterExtras, params: dict[str, Any], account: str, region: str
) -> dict[str, Any] | Response:
    association = _find_association(extras, params)
    if isinstance(association, Response):
        return association
    extras.associations.remove(association)
    return {"association": dict(association)}


def _describe_update(
    extras: ClusterExtras, params: dict[str, Any], account: str, region: str
) -> dict[str, Any] | Response:
    found = extras.updates.get(params["updateId"])
    about = params.get("nodegroupName") or params.get("addonName") or ""
    if found is None or found[1] != about:
        return _error(
            "ResourceNotFoundException", 404, f"No update found for ID: {params['updateId']}"
        )
    return {"update": found[0]}


_OPERATIONS = {
    "CreateAddon": _create_addon,
    "UpdateAddon": _update_addon,
    "DeleteAddon": _delete_addon,
    "CreatePodIdentityAssociation": _create_association,
    "UpdatePodIdentityAssociation": _update_association,
    "DeletePodIdentityAssociation": _delete_association,
    "DescribeUpdate": _describe_update,
}

"""The fakes' wire fidelity: the simulated Kubernetes API (paths, verbs, PATCH types, Status
bodies, list shapes, selectors) and the EKS write operations (shapes, ownership, errors)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from fakes import sim_fixtures
from fakes.fleet import CNI_POLICY
from fakes.sim_fixtures import SimEnv

sim_cluster = sim_fixtures.sim_cluster
sim_cluster_factory = sim_fixtures.sim_cluster_factory

POD_IDENTITY_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}


def call(
    env: SimEnv, method: str, path: str, body: Any = None, content_type: str = "application/json"
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        env.sim.url + path, data=data, method=method, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def pod_body(env: SimEnv, name: str, **spec: Any) -> dict[str, Any]:
    containers = [{"name": "pause", "image": env.pause_image}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": containers, **spec},
    }


def test_kubernetes_errors_are_status_bodies(sim_cluster: SimEnv) -> None:
    assert call(sim_cluster, "GET", "/api/v1/namespaces/default/pods/nope") == (
        404,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'pods "nope" not found',
            "reason": "NotFound",
            "details": {"name": "nope", "kind": "pods"},
            "code": 404,
        },
    )
    status, body = call(sim_cluster, "GET", "/apis/apps/v1/namespaces/kube-system/daemonsets/nope")
    assert (status, body["message"], body["details"]) == (
        404,
        'daemonsets.apps "nope" not found',
        {"name": "nope", "kind": "daemonsets", "group": "apps"},
    )
    status, body = call(
        sim_cluster, "POST", "/api/v1/namespaces", {"metadata": {"name": "default"}}
    )
    assert (status, body["reason"], body["message"]) == (
        409,
        "AlreadyExists",
        'namespaces "default" already exists',
    )
    status, body = call(sim_cluster, "GET", "/api/v1/pods?fieldSelector=spec.foo%3Dx")
    assert (status, body["message"]) == (400, "field label not supported: spec.foo")
    status, body = call(
        sim_cluster,
        "POST",
        "/api/v1/namespaces/default/pods",
        pod_body(sim_cluster, "x", serviceAccountName="ghost"),
    )
    assert (status, body["reason"], body["message"]) == (
        403,
        "Forbidden",
        'pods "x" is forbidden: error looking up service account default/ghost: '
        'serviceaccount "ghost" not found',
    )
    status, body = call(
        sim_cluster, "POST", "/api/v1/namespaces/nowhere/pods", pod_body(sim_cluster, "x")
    )
    assert (status, body["message"]) == (404, 'namespaces "nowhere" not found')
    status, body = call(sim_cluster, "DELETE", "/api/v1/nodes/x")
    assert (status, body["reason"]) == (405, "MethodNotAllowed")


def test_lists_have_the_api_shape_and_page(sim_cluster: SimEnv) -> None:
    status, body = call(
        sim_cluster,
        "GET",
        "/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Daws-node&limit=1",
    )
    assert (status, body["kind"], body["apiVersion"], len(body["items"])) == (
        200,
        "PodList",
        "v1",
        1,
    )
    assert set(body["items"][0]) == {"metadata", "spec", "status"}
    assert body["metadata"]["resourceVersion"].isdigit() and body["metadata"]["continue"] == "1"
    token = body["metadata"]["continue"]
    _, rest = call(
        sim_cluster,
        "GET",
        f"/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Daws-node&limit=1&continue={token}",
    )
    assert "continue" not in rest["metadata"] and len(rest["items"]) == 1
    assert rest["items"][0]["metadata"]["name"] != body["items"][0]["metadata"]["name"]
    _, none = call(
        sim_cluster,
        "GET",
        "/api/v1/pods?labelSelector=k8s-app%20notin%20(aws-node,kube-proxy),k8s-app",
    )
    assert none["items"] == []
    _, groups = call(
        sim_cluster,
        "GET",
        "/api/v1/nodes?labelSelector=eks.amazonaws.com%2Fnodegroup%20in%20(main)",
    )
    assert [n["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] for n in groups["items"]] == [
        "main",
        "main",
    ]


def test_the_three_patch_types_and_optimistic_updates(sim_cluster: SimEnv) -> None:
    sa = "/api/v1/namespaces/kube-system/serviceaccounts/aws-node"
    _, body = call(
        sim_cluster,
        "PATCH",
        sa,
        {"metadata": {"annotations": {"a": "1", "b": "2"}}},
        "application/merge-patch+json",
    )
    assert body["metadata"]["annotations"] == {"a": "1", "b": "2"}
    _, body = call(
        sim_cluster,
        "PATCH",
        sa,
        [
            {
                "op": "add",
                "path": "/metadata/annotations/eks.amazonaws.com~1role-arn",
                "value": "arn:x",
            },
            {"op": "remove", "path": "/metadata/annotations/a"},
        ],
        "application/json-patch+json",
    )
    assert body["metadata"]["annotations"] == {"b": "2", "eks.amazonaws.com/role-arn": "arn:x"}
    _, body = call(
        sim_cluster,
        "PATCH",
        sa,
        {"metadata": {"annotations": {"b": None}}},
        "application/strategic-merge-patch+json",
    )
    assert body["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:x"}
    status, body = call(
        sim_cluster,
        "PATCH",
        sa,
        [{"op": "test", "path": "/metadata/name", "value": "other"}],
        "application/json-patch+json",
    )
    assert (status, body["reason"]) == (422, "Invalid")
    status, body = call(sim_cluster, "PATCH", sa, {"metadata": {}}, "application/apply-patch+yaml")
    assert (status, body["reason"]) == (415, "UnsupportedMediaType")

    ds = "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node"
    sim_cluster.sim.paused.set()  # no controller writes between our read and our PUT
    env_patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "aws-node", "env": [{"name": "WARM_ENI_TARGET", "value": "2"}]}
                    ]
                }
            }
        }
    }
    _, body = call(sim_cluster, "PATCH", ds, env_patch, "application/strategic-merge-patch+json")
    containers = body["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["aws-node", "aws-eks-nodeagent"]
    env = {e["name"]: e.get("value") for e in containers[0]["env"]}
    assert (env["WARM_ENI_TARGET"], env["VPC_CNI_VERSION"], len(env)) == ("2", "v1.19.0", 12)
    assert body["metadata"]["generation"] == 2
    stale = dict(body, metadata={**body["metadata"], "resourceVersion": "1"})
    status, answer = call(sim_cluster, "PUT", ds, stale)
    assert (status, answer["reason"]) == (409, "Conflict")
    status, answer = call(sim_cluster, "PUT", ds, body)
    assert (status, answer["metadata"]["generation"]) == (200, 2)  # nothing changed


def test_namespaces_terminate_and_names_are_generated(sim_cluster: SimEnv) -> None:
    call(sim_cluster, "POST", "/api/v1/namespaces", {"metadata": {"name": "scratch"}})
    sim_cluster.sim.paused.set()  # the namespace controller waits: the namespace stays Terminating
    status, pod = call(
        sim_cluster,
        "POST",
        "/api/v1/namespaces/scratch/pods",
        {**pod_body(sim_cluster, ""), "metadata": {"generateName": "probe-"}},
    )
    assert (
        status == 201
        and pod["metadata"]["name"].startswith("probe-")
        and len(pod["metadata"]["name"]) == 11
    )
    status, ns = call(sim_cluster, "DELETE", "/api/v1/namespaces/scratch")
    assert (status, ns["status"]["phase"]) == (200, "Terminating")
    status, body = call(
        sim_cluster, "POST", "/api/v1/namespaces/scratch/pods", pod_body(sim_cluster, "late")
    )
    assert (status, body["message"]) == (
        403,
        'pods "late" is forbidden: unable to create new content in namespace scratch because it '
        "is being terminated",
    )
    sim_cluster.settle()
    assert call(sim_cluster, "GET", "/api/v1/namespaces/scratch")[0] == 404
    assert (
        call(sim_cluster, "GET", "/api/v1/pods?fieldSelector=metadata.namespace%3Dscratch")[1][
            "items"
        ]
        == []
    )


def test_scheduling_images_and_host_network(sim_cluster: SimEnv) -> None:
    call(sim_cluster, "POST", "/api/v1/namespaces", {"metadata": {"name": "t"}})
    nodes = [n["metadata"]["name"] for n in sim_cluster.nodes()]
    call(
        sim_cluster,
        "POST",
        "/api/v1/namespaces/t/pods",
        pod_body(sim_cluster, "nowhere", nodeSelector={"eks.amazonaws.com/nodegroup": "gpu"}),
    )
    call(
        sim_cluster,
        "POST",
        "/api/v1/namespaces/t/pods",
        {
            **pod_body(sim_cluster, "docker"),
            "spec": {
                "containers": [{"name": "c", "image": "nginx"}],
                "nodeSelector": {"kubernetes.io/hostname": nodes[0]},
            },
        },
    )
    call(
        sim_cluster,
        "POST",
        "/api/v1/namespaces/t/pods",
        pod_body(sim_cluster, "host", hostNetwork=True, nodeName=nodes[1]),
    )
    sim_cluster.settle()
    _, nowhere = call(sim_cluster, "GET", "/api/v1/namespaces/t/pods/nowhere")
    assert (nowhere["status"]["phase"], nowhere["status"]["conditions"][0]["reason"]) == (
        "Pending",
        "Unschedulable",
    )
    _, events = call(
        sim_cluster,
        "GET",
        "/api/v1/namespaces/t/events?fieldSelector=involvedObject.name%3Dnowhere",
    )
    assert [(e["reason"], e["source"]) for e in events["items"]] == [
        ("FailedScheduling", {"component": "default-scheduler"})
    ]
    assert events["items"][0]["message"].startswith(
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    )
    _, docker = call(sim_cluster, "GET", "/api/v1/namespaces/t/pods/docker")
    # the sandbox got its IP; the image cannot be pulled without internet access
    assert (docker["spec"]["nodeName"], docker["status"]["phase"]) == (nodes[0], "Pending")
    assert docker["status"]["podIP"].startswith("10.0.")
    assert docker["status"]["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "ErrImagePull"}
    }
    _, host = call(sim_cluster, "GET", "/api/v1/namespaces/t/pods/host")
    node_ip = next(
        n["status"]["addresses"][0]["address"]
        for n in sim_cluster.nodes()
        if n["metadata"]["name"] == nodes[1]
    )
    assert (host["status"]["phase"], host["status"]["podIP"]) == ("Running", node_ip)


def test_deleting_aws_node_pods_recreates_them_with_the_current_identity(
    sim_cluster: SimEnv,
) -> None:
    sa = "/api/v1/namespaces/kube-system/serviceaccounts/aws-node"
    call(
        sim_cluster,
        "PATCH",
        sa,
        {
            "metadata": {
                "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/x"}
            }
        },
        "application/merge-patch+json",
    )
    status, deleted = call(
        sim_cluster,
        "DELETE",
        "/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Daws-node",
    )
    assert (status, deleted["kind"], len(deleted["items"])) == (200, "PodList", 2)
    sim_cluster.settle()
    pods = sim_cluster.aws_node_pods()
    roles = [
        e["value"]
        for p in pods
        for c in p["spec"]["containers"]
        for e in c["env"]
        if e["name"] == "AWS_ROLE_ARN"
    ]
    assert roles == ["arn:aws:iam::123456789012:role/x"] * 4
    # the role does not exist: the recreated pods never get Ready
    ds = call(sim_cluster, "GET", "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node")[1]
    assert (
        ds["status"]["desiredNumberScheduled"],
        ds["status"]["numberReady"],
        ds["status"]["numberUnavailable"],
    ) == (2, 0, 2)


def test_karpenter_nodes_fall_back_to_their_own_role(sim_cluster: SimEnv) -> None:
    iam = sim_cluster.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam.create_role(
        RoleName="KarpenterNodeRole-demo", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    node = sim_cluster.sim.add_node(arn, karpenter_nodepool="default")
    sim_cluster.settle()
    _, got = call(sim_cluster, "GET", f"/api/v1/nodes/{node.name}")
    assert got["metadata"]["labels"]["karpenter.sh/nodepool"] == "default"
    assert (got["status"]["conditions"][0]["status"], got["spec"]["taints"]) == (
        "False",
        [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}],
    )
    iam.attach_role_policy(RoleName="KarpenterNodeRole-demo", PolicyArn=CNI_POLICY)
    sim_cluster.wait_for(
        lambda: (
            call(sim_cluster, "GET", f"/api/v1/nodes/{node.name}")[1]["status"]["conditions"][0][
                "status"
            ]
            == "True"
        )
    )
    _, cm = call(sim_cluster, "GET", "/api/v1/namespaces/kube-system/configmaps/aws-auth")
    assert f"- rolearn: {arn}\n" in cm["data"]["mapRoles"]


def test_events_are_served_by_events_k8s_io_too(sim_cluster: SimEnv) -> None:
    sim_cluster.client("iam").detach_role_policy(
        RoleName=sim_cluster.node_role_name, PolicyArn=CNI_POLICY
    )
    call(sim_cluster, "POST", "/api/v1/namespaces/default/pods", pod_body(sim_cluster, "probe"))
    sim_cluster.settle()
    _, body = call(sim_cluster, "GET", "/apis/events.k8s.io/v1/events")
    assert body["kind"] == "EventList" and body["apiVersion"] == "events.k8s.io/v1"
    missing = [e for e in body["items"] if e["reason"] == "MissingIAMPermissions"]
    assert [(e["reportingController"], e["action"], e["regarding"]["kind"]) for e in missing] == [
        ("aws-node", "ec2:AssignPrivateIpAddresses", "Pod")
    ]
    sandbox = [e for e in body["items"] if e["reason"] == "FailedCreatePodSandBox"]
    assert [(e["reportingController"], e["deprecatedSource"]["component"]) for e in sandbox] == [
        ("kubelet", "kubelet")
    ]


# EKS writes ------------------------------------------------------------------------------------


def test_add_on_owned_pod_identity_associations(sim_cluster: SimEnv) -> None:
    eks, iam = sim_cluster.client("eks"), sim_cluster.client("iam")
    name = sim_cluster.cluster_name
    roles = [
        iam.create_role(
            RoleName=f"cni-{i}", AssumeRolePolicyDocument=json.dumps(POD_IDENTITY_TRUST)
        )["Role"]["Arn"]
        for i in range(2)
    ]
    update = eks.update_addon(
        clusterName=name,
        addonName="vpc-cni",
        podIdentityAssociations=[{"serviceAccount": "aws-node", "roleArn": roles[0]}],
    )["update"]
    described = eks.describe_update(name=name, updateId=update["id"], addonName="vpc-cni")["update"]
    assert (described["status"], described["params"]) == (
        "Successful",
        [
            {
                "type": "PodIdentityAssociations",
                "value": json.dumps(
                    [{"serviceAccount": "aws-node", "roleArn": roles[0]}], separators=(",", ":")
                ),
            }
        ],
    )
    addon = eks.describe_addon(clusterName=name, addonName="vpc-cni")["addon"]
    listed = eks.list_pod_identity_associations(clusterName=name, namespace="kube-system")[
        "associations"
    ]
    assert [(a["serviceAccount"], a["ownerArn"], a["associationArn"]) for a in listed] == [
        ("aws-node", addon["addonArn"], addon["podIdentityAssociations"][0])
    ]
    with pytest.raises(ClientError) as owned:
        eks.update_pod_identity_association(
            clusterName=name, associationId=listed[0]["associationId"], roleArn=roles[1]
        )
    assert owned.value.response["Error"]["Code"] == "InvalidRequestException"
    eks.update_addon(
        clusterName=name,
        addonName="vpc-cni",
        podIdentityAssociations=[{"serviceAccount": "aws-node", "roleArn": roles[1]}],
    )
    again = eks.list_pod_identity_associations(clusterName=name)["associations"]
    assert len(again) == 1 and again[0]["associationId"] != listed[0]["associationId"]
    assert (
        eks.describe_pod_identity_association(
            clusterName=name, associationId=again[0]["associationId"]
        )["association"]["roleArn"]
        == roles[1]
    )
    eks.delete_addon(clusterName=name, addonName="vpc-cni")
    assert eks.list_pod_identity_associations(clusterName=name)["associations"] == []
    assert eks.list_addons(clusterName=name)["addons"] == []
    with pytest.raises(ClientError) as gone:
        eks.update_addon(clusterName=name, addonName="vpc-cni", serviceAccountRoleArn=roles[0])
    assert (
        gone.value.response["Error"]["Code"],
        gone.value.response["ResponseMetadata"]["HTTPStatusCode"],
    ) == ("ResourceNotFoundException", 404)


def test_standalone_associations_add_ons_and_tags(sim_cluster: SimEnv) -> None:
    eks, iam = sim_cluster.client("eks"), sim_cluster.client("iam")
    name = sim_cluster.cluster_name
    role = iam.create_role(RoleName="cni", AssumeRolePolicyDocument=json.dumps(POD_IDENTITY_TRUST))[
        "Role"
    ]["Arn"]
    created = eks.create_pod_identity_association(
        clusterName=name, namespace="kube-system", serviceAccount="aws-node", roleArn=role
    )["association"]
    assert ("ownerArn" in created, created["roleArn"], created["disableSessionTags"]) == (
        False,
        role,
        False,
    )
    with pytest.raises(ClientError) as twice:
        eks.create_pod_identity_association(
            clusterName=name, namespace="kube-system", serviceAccount="aws-node", roleArn=role
        )
    assert twice.value.response["Error"]["Code"] == "ResourceInUseException"
    updated = eks.update_pod_identity_association(
        clusterName=name, associationId=created["associationId"], roleArn=f"{role}-2"
    )["association"]
    assert updated["roleArn"] == f"{role}-2"
    eks.delete_pod_identity_association(clusterName=name, associationId=created["associationId"])
    assert eks.list_pod_identity_associations(clusterName=name)["associations"] == []
    with pytest.raises(ClientError) as exists:
        eks.create_addon(clusterName=name, addonName="vpc-cni")
    assert exists.value.response["Error"]["Code"] == "ResourceInUseException"
    with pytest.raises(ClientError) as missing:
        eks.create_addon(clusterName="nope", addonName="vpc-cni")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    eks.tag_resource(resourceArn=sim_cluster.cluster_arn, tags={"cniguard.io/lock": "run-1"})
    assert eks.list_tags_for_resource(resourceArn=sim_cluster.cluster_arn)["tags"] == {
        "cniguard.io/lock": "run-1"
    }
    eks.untag_resource(resourceArn=sim_cluster.cluster_arn, tagKeys=["cniguard.io/lock"])
    assert eks.list_tags_for_resource(resourceArn=sim_cluster.cluster_arn)["tags"] == {}
    assert (
        boto3.client("eks").describe_addon(clusterName=name, addonName="vpc-cni")["addon"]["status"]
        == "ACTIVE"
    )

"""A simulated EKS cluster: a stateful Kubernetes API (:mod:`fakes.kube_api`) whose controllers
behave like the parts of EKS that decide whether the VPC CNI works.

Not a recording. Nodes come from the cluster's managed node groups in moto (desiredSize, nodeRole;
one moto EC2 instance per node, with the role's instance profile) plus self-managed or Karpenter
nodes a test adds. The loops, run on a background thread and by :meth:`SimCluster.settle`:

- admission: a new pod whose ServiceAccount has ``eks.amazonaws.com/role-arn`` gets the IRSA env
  and token volume; else, with a pod identity association for its ServiceAccount, the Pod
  Identity env (the EKS pod identity webhook);
- the DaemonSet controller keeps one aws-node pod per Linux node and rolls changed templates
  node by node within ``maxUnavailable``, with the status ``kubectl rollout status`` reads;
- aws-node turns Ready only when its identity works (decided by :mod:`fakes.cni_oracle` from
  moto's IAM state); a node is Ready only when its aws-node pod is;
- the scheduler binds pods to Ready nodes that fit; the kubelet gives a pod an IP only when the
  node's aws-node identity works now, else FailedCreatePodSandBox (+ aws-node's
  MissingIAMPermissions); images outside ECR fail with ErrImagePull (no internet);
- EKS writes seen by the proxy act as EKS does: the vpc-cni add-on's serviceAccountRoleArn sets the
  ServiceAccount annotation, new podIdentityAssociations restart aws-node, UpdateNodegroupConfig
  adds or removes nodes, any IAM write makes identities be judged again.

The simulator reads moto directly (not through the proxy), so the proxy's traffic log holds only
the calls of the code under test.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from typing import Any

import boto3

from fakes import sim_loops
from fakes import sim_objects as objs
from fakes.cni_oracle import Context, Identity, Verdict, judge
from fakes.kube_api import ApiError, Hooks, KubeApi, Resource, Store, now_iso
from fakes.proxy import DEFAULT_ACCOUNT, Call, FakeAws
from fakes.wire import rest_params

ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
AUDIENCE_ANNOTATION = "eks.amazonaws.com/audience"
RESTART_ANNOTATION = "eks.amazonaws.com/pod-identity-associations-updated-at"  # sim's own key
IRSA_TOKEN = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
POD_IDENTITY_URI = "http://169.254.170.23/v1/credentials"
POD_IDENTITY_TOKEN = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"
AMI = "ami-1e749f67"
REFRESH_SECONDS = 1.0  # how often moto is re-read for changes that bypass the proxy


class SimCluster:
    """One simulated cluster of an EKS cluster that exists in moto (``start`` it first)."""

    def __init__(
        self,
        fake: FakeAws,
        cluster_name: str,
        *,
        region: str = "us-east-1",
        account: str = DEFAULT_ACCOUNT,
        interval: float = 0.02,
    ) -> None:
        assert account == DEFAULT_ACCOUNT, "moto is reached with the default dummy keys"
        self.fake, self.cluster_name, self.region, self.account = (
            fake,
            cluster_name,
            region,
            account,
        )
        self.interval = interval
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
        moto_url = f"http://{fake.moto[0]}:{fake.moto[1]}"
        self._iam = session.client("iam", endpoint_url=moto_url)
        self._eks = session.client("eks", endpoint_url=moto_url)
        self._ec2 = session.client("ec2", endpoint_url=moto_url)
        self.store = Store()
        self.api = KubeApi(self.store, Hooks(admit=self._admit, changed=self._wake), self._view)
        self.nodes: dict[str, objs.SimNode] = {}
        self.blocked_nodegroups: set[str] = set()  # a fault: pods there never get an IP
        self._addon_annotated: str | None = None  # the annotation EKS set from the add-on's role
        self._verdicts: dict[tuple[Identity, bool], Verdict] = {}
        self._event_keys: dict[tuple[str, str], tuple[str, str]] = {}
        self._event_times: dict[tuple[str, str], float] = {}
        self._ips = itertools.count(10)
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self.paused = threading.Event()  # set: the background loop waits (settle() still steps)
        self._thread = threading.Thread(target=self._run, daemon=True)
        info = self._eks.describe_cluster(name=cluster_name)["cluster"]
        self.issuer: str = info["identity"]["oidc"]["issuer"]
        self.ip_family: str = (info.get("kubernetesNetworkConfig") or {}).get("ipFamily", "ipv4")

    # lifecycle ----------------------------------------------------------------------------------

    def start(self) -> SimCluster:
        with self.store.lock:
            for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
                self._put_namespace(name)
            addon = self._addon("vpc-cni")
            role = (addon or {}).get("serviceAccountRoleArn")
            self._addon_annotated = role
            self.store.put(
                "serviceaccounts",
                objs.service_account(
                    "kube-system", "aws-node", {ROLE_ANNOTATION: role} if role else {}
                ),
            )
            self.store.put("apps/daemonsets", objs.aws_node_daemonset(self.region, self.ip_family))
            self.sync_nodegroups()
        self.settle()
        self.fake.listeners.append(self._on_call)
        self.api.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._on_call in self.fake.listeners:
            self.fake.listeners.remove(self._on_call)
        self._stop.set()
        self._wakeup.set()
        self._thread.join()
        self.api.stop()

    @property
    def url(self) -> str:
        return self.api.url

    def settle(self, max_steps: int = 500) -> None:
        """Run the control loops until nothing changes any more."""
        for _ in range(max_steps):
            if not self.step():
                return
        raise AssertionError(f"the simulated cluster did not settle in {max_steps} steps")

    def step(self) -> bool:
        """One round of every control loop; whether anything changed."""
        return sim_loops.step(self)

    def _wake(self) -> None:
        self._wakeup.set()

    def _run(self) -> None:
        refreshed = time.monotonic()
        while not self._stop.is_set():
            self._wakeup.wait(self.interval)
            self._wakeup.clear()
            if self._stop.is_set():
                return
            if self.paused.is_set():
                continue
            if time.monotonic() - refreshed > REFRESH_SECONDS:
                refreshed = time.monotonic()
                with self.store.lock:
                    self._verdicts.clear()
                    self.sync_nodegroups()
            self.step()

    # nodes --------------------------------------------------------------------------------------

    def sync_nodegroups(self) -> None:
        """Make the nodes of every managed node group match its desiredSize in moto."""
        with self.store.lock:
            names: list[str] = []
            pages = self._eks.get_paginator("list_nodegroups").paginate(
                clusterName=self.cluster_name
            )
            for page in pages:
                names += page["nodegroups"]
            for group in names:
                info = self._eks.describe_nodegroup(
                    clusterName=self.cluster_name, nodegroupName=group
                )["nodegroup"]
                current = [n for n in self.nodes.values() if n.nodegroup == group]
                desired = int(info.get("scalingConfig", {}).get("desiredSize", 0))
                for _ in range(desired - len(current)):
                    self.add_node(
                        info["nodeRole"],
                        nodegroup=group,
                        labels=info.get("labels") or {},
                        subnets=info.get("subnets") or [],
                    )
                for node in sorted(current, key=lambda n: n.ip, reverse=True)[
                    : max(0, len(current) - desired)
                ]:
                    self.remove_node(node.name)
            for node in [
                n for n in self.nodes.values() if n.nodegroup and n.nodegroup not in names
            ]:
                self.remove_node(node.name)

    def add_node(
        self,
        role_arn: str,
        *,
        nodegroup: str | None = None,
        labels: dict[str, str] | None = None,
        karpenter_nodepool: str | None = None,
        subnets: list[str] | tuple[str, ...] = (),
    ) -> objs.SimNode:
        """A new EC2 instance (with the role's instance profile) that joins as a node."""
        role_name = role_arn.rsplit("/", 1)[-1]
        profiles = self._iam.list_instance_profiles_for_role(RoleName=role_name)["InstanceProfiles"]
        tags = [
            {"Key": "eks:cluster-name", "Value": self.cluster_name},
            {"Key": f"kubernetes.io/cluster/{self.cluster_name}", "Value": "owned"},
        ]
        extra = dict(labels or {})
        if nodegroup is not None:
            tags.append({"Key": "eks:nodegroup-name", "Value": nodegroup})
        if karpenter_nodepool is not None:
            tags.append({"Key": "karpenter.sh/nodepool", "Value": karpenter_nodepool})
            extra["karpenter.sh/nodepool"] = karpenter_nodepool
        request: dict[str, Any] = {
            "ImageId": AMI,
            "MinCount": 1,
            "MaxCount": 1,
            "InstanceType": "m5.large",
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
        }
        if profiles:
            request["IamInstanceProfile"] = {"Arn": profiles[0]["Arn"]}
        existing = (
            self._ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": list(subnets)}])[
                "Subnets"
            ]
            if subnets
            else []
        )
        if existing:
            request["SubnetId"] = existing[0]["SubnetId"]
        instance = self._ec2.run_instances(**request)["Instances"][0]
        name = instance["PrivateDnsName"]
        zone = instance["Placement"]["AvailabilityZone"]
        node = objs.SimNode(
            name=name,
            role_arn=role_arn,
            ip=instance["PrivateIpAddress"],
            instance_id=instance["InstanceId"],
            zone=zone,
            labels=objs.node_labels(name, zone, nodegroup=nodegroup, extra=extra),
            nodegroup=nodegroup,
        )
        with self.store.lock:
            self.nodes[name] = node
            self.store.put("nodes", node.object(ready=False))
            self._refresh_aws_auth()
        self._wake()
        return node

    def remove_node(self, name: str) -> None:
        with self.store.lock:
            node = self.nodes.pop(name)
            self._ec2.terminate_instances(InstanceIds=[node.instance_id])
            self.store.remove("nodes", "", name)
            for pod in self.store.items("pods"):
                if pod["spec"].get("nodeName") == name:
                    self.store.remove("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
            self._refresh_aws_auth()

    def _refresh_aws_auth(self) -> None:
        roles = [n.role_arn for n in self.nodes.values()]
        current = self.store.get("configmaps", "kube-system", "aws-auth")
        wanted = objs.aws_auth(roles)
        if current is None or current["data"] != wanted["data"]:
            self.store.put(
                "configmaps",
                {
                    **(current or {}),
                    **wanted,
                    "metadata": {**(current or {}).get("metadata", {}), **wanted["metadata"]},
                },
            )

    # EKS and IAM writes, as the proxy reports them --------------------------------------------

    def _on_call(self, call: Call) -> None:
        service, _, operation = call.action.partition(":")
        if call.account != self.account:
            return
        if service == "iam":
            with self.store.lock:
                self._verdicts.clear()
            self._wake()
            return
        parts = call.request.path.split("/")
        if (
            service != "eks"
            or call.region != self.region
            or parts[1:3] != ["clusters", self.cluster_name]
        ):
            return
        with self.store.lock:
            self._verdicts.clear()
            if operation in ("UpdateNodegroupConfig", "CreateNodegroup", "DeleteNodegroup"):
                self.sync_nodegroups()
            elif operation in ("CreateAddon", "UpdateAddon"):
                params = rest_params(call.request, "eks", operation)
                if params["addonName"] == "vpc-cni":
                    self._addon_applied(params, restart=operation == "UpdateAddon")
        self._wake()

    def _addon_applied(self, params: dict[str, Any], *, restart: bool) -> None:
        """What EKS does in the cluster when it applies the vpc-cni add-on's settings: the
        ServiceAccount carries the add-on's role (a create or update without one unsets it, and
        EKS's server-side apply drops the annotation it had set, never someone else's)."""
        role = params.get("serviceAccountRoleArn") or None
        sa = self.store.get("serviceaccounts", "kube-system", "aws-node")
        if sa is not None:
            changed = copy.deepcopy(sa)
            annotations = changed["metadata"].setdefault("annotations", {})
            if role:
                annotations[ROLE_ANNOTATION] = role
            elif (
                self._addon_annotated and annotations.get(ROLE_ANNOTATION) == self._addon_annotated
            ):
                del annotations[ROLE_ANNOTATION]
            if changed != sa:
                self.store.put("serviceaccounts", changed)
        self._addon_annotated = role
        if restart and "podIdentityAssociations" in params:
            self.restart_aws_node(RESTART_ANNOTATION)

    def restart_aws_node(self, annotation: str = "kubectl.kubernetes.io/restartedAt") -> None:
        """Change the DaemonSet's template (a restart); generation +1, pods roll."""
        with self.store.lock:
            ds = copy.deepcopy(self.store.get("apps/daemonsets", "kube-system", "aws-node"))
            assert ds is not None
            template_meta = ds["spec"]["template"].setdefault("metadata", {})
            template_meta.setdefault("annotations", {})[annotation] = (
                now_iso() + f"#{self.store.revision}"
            )
            ds["metadata"]["generation"] += 1
            self.store.put("apps/daemonsets", ds)
        self._wake()

    def _put_namespace(self, name: str) -> None:
        self.store.put("namespaces", objs.namespace_object(name))
        self.store.put("serviceaccounts", objs.service_account(name, "default", {}))

    def _view(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        return objs.events_v1(obj) if resource.group == "events.k8s.io" else obj

    # admission -----------------------------------------------------------------------------------

    def _admit(self, resource: Resource, obj: dict[str, Any]) -> None:
        if resource.plural == "namespaces":
            name = obj["metadata"]["name"]
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            obj["spec"], obj["status"] = {"finalizers": ["kubernetes"]}, {"phase": "Active"}
            self.store.put("serviceaccounts", objs.service_account(name, "default", {}))
        elif resource.plural == "pods":
            self._admit_pod(obj)
        elif resource.plural == "events" and "involvedObject" not in obj:
            raise ApiError(422, "Invalid", "Event is invalid: involvedObject: Required value")

    def _admit_pod(self, pod: dict[str, Any]) -> None:
        meta, spec = pod["metadata"], pod.setdefault("spec", {})
        name, namespace = meta["name"], meta["namespace"]
        if not spec.get("containers"):
            raise ApiError(
                422,
                "Invalid",
                f'Pod "{name}" is invalid: spec.containers: Required value',
                {"name": name, "kind": "Pod"},
            )
        account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = spec["serviceAccount"] = account
        sa = self.store.get("serviceaccounts", namespace, account)
        if sa is None:
            raise ApiError(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: error looking up service account '
                f'{namespace}/{account}: serviceaccount "{account}" not found',
                {"name": name, "kind": "pods"},
            )
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        tolerations = spec.setdefault("tolerations", [])
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if not any(t.get("key") == key for t in tolerations):
                tolerations.append(
                    {
                        "key": key,
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 300,
                    }
                )
        annotations = sa["metadata"].get("annotations") or {}
        if annotations.get(ROLE_ANNOTATION):
            audience = annotations.get(AUDIENCE_ANNOTATION, "sts.amazonaws.com")
            env = {
                "AWS_STS_REGIONAL_ENDPOINTS": "regional",
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_ROLE_ARN": annotations[ROLE_ANNOTATION],
                "AWS_WEB_IDENTITY_TOKEN_FILE": IRSA_TOKEN,
            }
            self._inject(
                spec, env, "aws-iam-token", audience, "token", IRSA_TOKEN.rsplit("/", 1)[0]
            )
        elif self._association(namespace, account) is not None:
            env = {
                "AWS_STS_REGIONAL_ENDPOINTS": "regional",
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": POD_IDENTITY_URI,
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": POD_IDENTITY_TOKEN,
            }
            self._inject(
                spec,
                env,
                "eks-pod-identity-token",
                "pods.eks.amazonaws.com",
                "eks-pod-identity-token",
                POD_IDENTITY_TOKEN.rsplit("/", 1)[0],
            )
        pod["status"] = objs.pod_status(pod, scheduled=False, ip=None, ready=False)

    @staticmethod
    def _inject(
        spec: dict[str, Any], env: dict[str, str], volume: str, audience: str, path: str, mount: str
    ) -> None:
        for container in spec.get("initContainers", []) + spec["containers"]:
            present = {e["name"] for e in container.get("env", [])}
            container["env"] = [
                *container.get("env", []),
                *({"name": k, "value": v} for k, v in env.items() if k not in present),
            ]
            container["volumeMounts"] = [
                *container.get("volumeMounts", []),
                {"name": volume, "mountPath": mount, "readOnly": True},
            ]
        token = {
            "serviceAccountToken": {"audience": audience, "expirationSeconds": 86400, "path": path}
        }
        spec["volumes"] = [
            *spec.get("volumes", []),
            {"name": volume, "projected": {"defaultMode": 420, "sources": [token]}},
        ]

    # identity --------------------------------------------------------------------------------------

    def _addon(self, name: str) -> dict[str, Any] | None:
        state = self.fake.state
        with state.lock:
            found = state.cluster(self.account, self.region, self.cluster_name).addons.get(name)
            return copy.deepcopy(found) if found is not None else None

    def _association(self, namespace: str, account: str) -> dict[str, Any] | None:
        state = self.fake.state
        with state.lock:
            for a in state.cluster(self.account, self.region, self.cluster_name).associations:
                if (a["namespace"], a["serviceAccount"]) == (namespace, account):
                    return dict(a)
        return None

    def verdict(self, pod: dict[str, Any]) -> Verdict:
        """Whether the CNI in aws-node pod ``pod`` works, with the credentials its env leads to."""
        container = next(c for c in pod["spec"]["containers"] if c["name"] == "aws-node")
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        namespace, account = pod["metadata"]["namespace"], pod["spec"]["serviceAccountName"]
        identity: Identity
        if env.get("AWS_ROLE_ARN"):
            volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "aws-iam-token")
            audience = volume["projected"]["sources"][0]["serviceAccountToken"]["audience"]
            identity = Identity("irsa", str(env["AWS_ROLE_ARN"]), namespace, account, audience)
        elif env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
            association = self._association(namespace, account)
            if association is None:
                return Verdict(False, "no pod identity association", ())
            identity = Identity("pod-identity", association["roleArn"], namespace, account)
        else:
            identity = Identity("node", self.nodes[pod["spec"]["nodeName"]].role_arn)
        agent = self._addon("eks-pod-identity-agent") is not None
        key = (identity, agent)
        if key not in self._verdicts:
            context = Context(
                self.account, self.region, self.issuer, self.ip_family, agent, self.cluster_name
            )
            self._verdicts[key] = judge(self._iam, identity, context)
        return self._verdicts[key]

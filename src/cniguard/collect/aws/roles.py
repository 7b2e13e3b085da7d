"""The IAM roles of one account, each read once, as soon as some cluster references it.

Roles are not read after everything else: a role is requested the moment a reader sees its ARN
(a node group's role, an add-on's, an instance profile's ...), so IAM reads overlap the EKS and EC2
reads instead of adding their own chain at the end. The per-role versus
``GetAccountAuthorizationDetails`` choice is made online: once ``GetAccountSummary`` has sized the
account, the bulk read starts as soon as it is cheaper than per-role reads for the roles already
requested, or for one role per cluster already listed (nearly every cluster references at least
its node role), which usually means before the first role ARN is even known. Requests that arrive
while the bulk read runs wait for it in a list, never in a blocked worker. With the bulk read,
instance profiles resolve to their roles without ``GetInstanceProfile``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Literal

from cniguard.collect.aws import iam
from cniguard.collect.aws.context import RunContext
from cniguard.collect.aws.errors import Where
from cniguard.collect.aws.scope import AccountScope
from cniguard.collect.aws.tasks import iam_lane
from cniguard.model.inventory import Role

BULK = "GetAccountAuthorizationDetails"
PER_ROLE = "per-role"


class AccountRoles:
    def __init__(self, ctx: RunContext, scope: AccountScope, found: Callable[[Role], None]) -> None:
        self._ctx = ctx
        self._scope = scope
        self._found = found
        self._where = Where(scope.account)
        self._lane = iam_lane(scope.account)
        self._lock = threading.Lock()
        self._sized = False
        self._size: int | None = None
        self._clusters = 0
        self._roles: set[str] = set()
        self._profiles = 0
        self._waiting: list[Callable[[], None]] = []
        self._bulk: Literal["no", "running", "done"] = "no"
        self._details: iam.AccountDetails | None = None

    @property
    def strategy(self) -> str | None:
        """How this account's roles were read (None: no role was requested)."""
        if not self._roles:
            return None
        return BULK if self._details is not None else PER_ROLE

    def start(self) -> None:
        """Size the account (``GetAccountSummary``) before any role is requested."""
        self._ctx.tasks.spawn(
            self._read_size, what="iam:summary", where=self._where, lane=self._lane
        )

    def clusters_listed(self, count: int) -> None:
        with self._lock:
            self._clusters += count
        self._decide()

    def want_role(self, arn: str) -> None:
        with self._lock:
            if arn in self._roles:
                return
            self._roles.add(arn)
            self._waiting.append(partial(self._spawn_role, arn))
        self._decide()

    def want_profile(
        self, profile_arn: str, on_role: Callable[[str | None], None], where: Where
    ) -> None:
        """Resolve an instance profile to its role ARN (None: no role, or unreadable)."""
        with self._lock:
            self._profiles += 1
            self._waiting.append(partial(self._spawn_profile, profile_arn, on_role, where))
        self._decide()

    # choice ----------------------------------------------------------------------------------

    def _decide(self) -> None:
        """Start the bulk read when it is cheaper, else release the waiting requests."""
        with self._lock:
            if not self._sized or self._bulk == "running":
                return
            wanted = max(len(self._roles) + self._profiles, self._clusters)
            start_bulk = self._bulk == "no" and iam.use_details(self._size, wanted)
            ready: list[Callable[[], None]] = []
            if start_bulk:
                self._bulk = "running"
            else:
                ready, self._waiting = self._waiting, []
        if start_bulk:
            self._ctx.tasks.spawn(
                self._read_bulk, what="iam:role", where=self._where, lane=self._lane
            )
        for job in ready:
            job()

    def _read_size(self) -> None:
        size = None
        try:
            size = iam.account_size(self._ctx, self._scope)
        finally:  # even after an unexpected error no request stays waiting
            with self._lock:
                self._sized, self._size = True, size
            self._decide()

    def _read_bulk(self) -> None:
        details = None
        try:
            details = iam.read_details(self._ctx, self._scope)  # None: refused, read per role
        finally:
            with self._lock:
                self._bulk, self._details = "done", details
            self._decide()

    # reads -----------------------------------------------------------------------------------

    def _spawn_role(self, arn: str) -> None:
        self._ctx.tasks.spawn(
            self._role, arn, self._details, what="iam:role", where=self._where, lane=self._lane
        )

    def _role(self, arn: str, details: iam.AccountDetails | None) -> None:
        ctx, scope = self._ctx, self._scope
        role = (
            iam.role_from_details(ctx, scope, arn, details)
            if details is not None
            else iam.role_by_calls(ctx, scope, arn)
        )
        if role is not None:
            self._found(role)

    def _spawn_profile(
        self, profile_arn: str, on_role: Callable[[str | None], None], where: Where
    ) -> None:
        details = self._details
        if details is not None and profile_arn in details.profile_roles:
            on_role(details.profile_roles[profile_arn])
            return
        self._ctx.tasks.spawn(
            self._profile,
            profile_arn,
            on_role,
            where,
            what="iam:instance-profile",
            where=where,
            lane=self._lane,
        )

    def _profile(
        self, profile_arn: str, on_role: Callable[[str | None], None], where: Where
    ) -> None:
        on_role(iam.instance_profile_role(self._ctx, self._scope, profile_arn, where))

"""``doctor`` checks of IAM: each role exists and trusts the service that assumes it."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Set, Tuple
from urllib.parse import unquote

from ..errors import AwsCallError
from .checks import OK, PROBLEM, CheckContext

__all__ = ["IamChecks"]


class IamChecks(CheckContext):
    """The role checks (mixed into :class:`~miniwdl_aws.ops.doctor.Doctor`)."""

    def check_roles(self) -> None:
        """The roles exist and trust the right services: the workflow role ecs-tasks, the compute
        environments' instance roles ec2, their service roles batch, Spot fleet roles spotfleet."""
        wanted: List[Tuple[str, str, str, str]] = []  # (label, kind, name or ARN, service)
        if self.t.workflow_role:
            wanted.append(
                ("workflow role", "role", self.t.workflow_role, "ecs-tasks.amazonaws.com")
            )
        elif self.t.workflow_queue:
            self._add(
                "workflow role",
                PROBLEM,
                "not configured",
                "set [aws] workflow_role or tag the workflow queue with WorkflowEngineRoleArn",
            )
        for ce in self._all_ces():
            res = ce.get("computeResources") or {}
            label = ce["computeEnvironmentName"]
            if res.get("instanceRole"):
                wanted.append(
                    (
                        f"instance role of {label}",
                        "profile",
                        res["instanceRole"],
                        "ec2.amazonaws.com",
                    )
                )
            elif res.get("type") in ("EC2", "SPOT"):
                self._add(f"instance role of {label}", PROBLEM, "not set", "set instanceRole")
            if ce.get("serviceRole"):
                wanted.append(
                    (f"service role of {label}", "role", ce["serviceRole"], "batch.amazonaws.com")
                )
            if res.get("spotIamFleetRole"):
                wanted.append(
                    (
                        f"Spot fleet role of {label}",
                        "role",
                        res["spotIamFleetRole"],
                        "spotfleet.amazonaws.com",
                    )
                )
        done: Set[Tuple[str, str]] = set()
        for label, kind, ref, service in wanted:
            if (ref, service) not in done:
                done.add((ref, service))
                self._check_role(label, kind, ref, service)

    def _check_role(self, label: str, kind: str, ref: str, service: str) -> None:
        name = _name_from_arn(ref)
        try:
            if kind == "profile":
                profile = self.iam.get_instance_profile(name)
                roles = profile.get("Roles", [])
                if not roles:
                    self._add(label, PROBLEM, f"instance profile {name} has no role", "add one")
                    return
                role = roles[0]
            else:
                role = self.iam.get_role(name)
        except AwsCallError as exn:
            self._add(label, PROBLEM, f"{ref}: {self._err(exn)}", "create it or fix the ARN")
            return
        doc = role.get("AssumeRolePolicyDocument") or {}
        if isinstance(doc, str):
            doc = json.loads(unquote(doc))
        if service in _trusted_services(doc):
            self._add(label, OK, f"{role['RoleName']} trusts {service}")
        else:
            self._add(
                label,
                PROBLEM,
                f"{role['RoleName']} does not trust {service}",
                f"allow sts:AssumeRole by {service} in its trust policy",
            )


def _name_from_arn(ref: str) -> str:
    """``role/path/Name`` or ``instance-profile/Name`` ARN (or a bare name) -> ``Name``."""
    return ref.rsplit("/", 1)[-1] if ref.startswith("arn:") else ref


def _trusted_services(doc: Dict[str, Any]) -> Set[str]:
    services: Set[str] = set()
    statements = doc.get("Statement") or []
    for st in statements if isinstance(statements, list) else [statements]:
        actions = st.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        if st.get("Effect") != "Allow" or not {"sts:AssumeRole", "sts:*", "*"} & set(actions):
            continue
        principal = st.get("Principal") or {}
        svc = principal.get("Service", []) if isinstance(principal, dict) else []
        services.update([svc] if isinstance(svc, str) else svc)
    return services

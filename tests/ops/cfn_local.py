"""Create the resources of ``infra/miniwdl-aws.yaml`` in the local AWS with plain boto3 calls.

moto can run CloudFormation, but not in this project: its ``cloudformation`` extra pulls a dozen
more packages that our ``local`` extra does not carry. So this small deployer reads the
template's own resource list and, in dependency order, resolves the intrinsic functions the
template uses (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::If``, ``Fn::Select``, ``Fn::GetAZs``,
conditions and ``Rules``) and turns each resource's properties into the equivalent API call.

It is strict so that it cannot silently drift from the template: a resource type or a property
it does not know is an error. It also refuses what AWS refuses but the local AWS (moto) accepts,
each rule with the AWS page that states it (see docs/AWS-RULES.md, "Infrastructure template"):

- EFS: Elastic throughput only with the General Purpose performance mode; Max I/O not on One Zone;
  a One Zone file system's mount target only in its own Availability Zone; one mount target per
  Availability Zone.
- Batch: a compute environment without ``ServiceRole`` uses the service-linked role
  AWSServiceRoleForBatch (created if missing, as Batch does); one whose ``ServiceRole`` is a role
  created in the same stack is refused (IAM propagation races CloudFormation, and infrastructure
  updates need the service-linked role).
- CloudWatch Logs: a log group that already exists cannot be created; retention must be one of
  the allowed day counts.

What it cannot prove is that real CloudFormation accepts the template; that is what cfn-lint is
for.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import boto3
from cfnlint.decode import decode_str

_NO_VALUE = object()


class TemplateError(Exception):
    """The template asks for something this deployer (or a Rule) does not allow."""


def _lower_first(key: str) -> str:
    return key[:1].lower() + key[1:]


class LocalDeployer:
    """Deploy one template with parameters; :meth:`deploy` returns its Outputs.

    :param template_path: the CloudFormation YAML
    :param parameters: parameter values (strings, as CloudFormation passes them)
    :param stack_name: prefix of the names of resources the template leaves unnamed
    """

    def __init__(
        self,
        template_path: str,
        parameters: Optional[Dict[str, str]] = None,
        stack_name: str = "t",
        template: Optional[Dict[str, Any]] = None,
    ) -> None:
        if template is None:
            with open(template_path) as f:
                template, matches = decode_str(f.read())
            if matches:
                raise TemplateError(f"template does not parse: {matches}")
        self.template = template
        self.stack_name = stack_name
        self.params = self._parameters(parameters or {})
        self.ec2 = boto3.client("ec2")
        self.region = self.ec2.meta.region_name
        self.account = boto3.client("sts").get_caller_identity()["Account"]
        self.physical: Dict[str, Any] = {}  # logical id -> Ref value
        self.attrs: Dict[str, Dict[str, Any]] = {}
        self._conditions: Dict[str, bool] = {}
        self.created: List[Tuple[str, str]] = []  # (logical id, type), in creation order
        self.aws_managed: Dict[str, List[str]] = {}  # role -> AWS managed policies not attached
        self.service_linked_roles: List[str] = []  # ARNs that compute environments fell back on

    # --- parameters, conditions, rules ---

    def _parameters(self, given: Dict[str, str]) -> Dict[str, Any]:
        declared = self.template.get("Parameters", {})
        unknown = set(given) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameters {sorted(unknown)}")
        values: Dict[str, Any] = {}
        for name, spec in declared.items():
            value = str(given.get(name, spec.get("Default", "")))
            allowed = spec.get("AllowedValues")
            if allowed and value not in [str(a) for a in allowed]:
                raise TemplateError(f"{name}={value!r} not in {allowed}")
            pattern = spec.get("AllowedPattern")
            if pattern and not re.fullmatch(pattern, value):
                raise TemplateError(f"{name}={value!r} does not match {pattern}")
            if spec.get("Type") == "CommaDelimitedList":
                values[name] = [v.strip() for v in value.split(",")] if value else []
            elif spec.get("Type", "String") in ("String", "Number"):
                values[name] = value
            else:
                raise TemplateError(f"{name}: parameter type {spec.get('Type')} not supported")
        return values

    def condition(self, name: str) -> bool:
        """The value of a named condition."""
        if name not in self._conditions:
            self._conditions[name] = bool(self._eval(self.template["Conditions"][name]))
        return self._conditions[name]

    def _check_rules(self) -> None:
        for name, rule in (self.template.get("Rules") or {}).items():
            if "RuleCondition" in rule and not self._eval(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not self._eval(assertion["Assert"]):
                    raise TemplateError(f"rule {name}: {assertion.get('AssertDescription', '')}")

    # --- intrinsic functions ---

    def _eval(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self._eval(x) for x in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            fn = self._FUNCTIONS.get(key)
            if fn is not None:
                return fn(self, arg)
        out = {}
        for k, v in node.items():
            value = self._eval(v)
            if value is not _NO_VALUE:
                out[k] = value
        return out

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::NoValue": _NO_VALUE,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return self.params[name]
        if name not in self.physical:
            raise TemplateError(f"Ref to {name}, which does not exist (condition false?)")
        return self.physical[name]

    def _get_att(self, arg: Any) -> Any:
        logical, attr = arg.split(".", 1) if isinstance(arg, str) else arg
        try:
            return self.attrs[logical][attr]
        except KeyError:
            raise TemplateError(f"GetAtt {logical}.{attr} is not available") from None

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self._eval(arg[1]))

        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self._get_att(name))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def _if(self, arg: Any) -> Any:
        name, yes, no = arg
        return self._eval(yes if self.condition(name) else no)

    def _select(self, arg: Any) -> Any:
        return self._eval(arg[1])[int(self._eval(arg[0]))]

    def _get_azs(self, arg: Any) -> List[str]:
        zones = self.ec2.describe_availability_zones()["AvailabilityZones"]
        return sorted(z["ZoneName"] for z in zones)

    _FUNCTIONS: Dict[str, Callable[[LocalDeployer, Any], Any]] = {
        "Ref": lambda self, a: self._ref(a),
        "Fn::GetAtt": lambda self, a: self._get_att(a),
        "Fn::Sub": lambda self, a: self._sub(a),
        "Fn::If": lambda self, a: self._if(a),
        "Fn::Select": lambda self, a: self._select(a),
        "Fn::GetAZs": lambda self, a: self._get_azs(a),
        "Fn::Join": lambda self, a: str(a[0]).join(str(x) for x in self._eval(a[1])),
        "Fn::Equals": lambda self, a: str(self._eval(a[0])) == str(self._eval(a[1])),
        "Fn::Not": lambda self, a: not self._eval(a[0]),
        "Fn::And": lambda self, a: all(self._eval(x) for x in a),
        "Fn::Or": lambda self, a: any(self._eval(x) for x in a),
        "Condition": lambda self, a: self.condition(a),
    }

    # --- ordering ---

    def _deps(self, node: Any, out: Set[str]) -> Set[str]:
        resources = self.template["Resources"]
        if isinstance(node, list):
            for x in node:
                self._deps(x, out)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "Ref" and value in resources:
                    out.add(value)
                elif key == "Fn::GetAtt":
                    out.add(value.split(".")[0] if isinstance(value, str) else value[0])
                elif key == "Fn::Sub":
                    text = value if isinstance(value, str) else value[0]
                    for name in re.findall(r"\$\{([^}!.]+)", text):
                        if name in resources:
                            out.add(name)
                    self._deps(value if isinstance(value, str) else value[1], out)
                else:
                    self._deps(value, out)
        return out

    def _order(self) -> List[str]:
        resources = self.template["Resources"]
        wanted = [
            r for r, spec in resources.items()
            if "Condition" not in spec or self.condition(spec["Condition"])
        ]  # fmt: skip
        deps = {}
        for r in wanted:
            spec = resources[r]
            d = self._deps(spec.get("Properties", {}), set())
            depends = spec.get("DependsOn", [])
            d.update([depends] if isinstance(depends, str) else depends)
            # a Ref in the untaken branch of an Fn::If may name a resource that is not created
            deps[r] = d & set(wanted)
        order: List[str] = []
        while len(order) < len(wanted):
            ready = [r for r in wanted if r not in order and deps[r] <= set(order)]
            if not ready:
                raise TemplateError(f"dependency cycle among {sorted(set(wanted) - set(order))}")
            order.append(ready[0])
        return order

    # --- deploy ---

    def deploy(self) -> Dict[str, Any]:
        """Create every resource whose condition holds; the evaluated Outputs."""
        self._check_rules()
        resources = self.template["Resources"]
        for logical in self._order():
            spec = resources[logical]
            rtype = spec["Type"]
            handler = _HANDLERS.get(rtype)
            if handler is None:
                raise TemplateError(f"{logical}: the local deployer does not know {rtype}")
            props = self._eval(spec.get("Properties", {}))
            known = _KNOWN_PROPERTIES[rtype]
            unknown = set(props) - known
            if unknown:
                raise TemplateError(
                    f"{logical} ({rtype}): unsupported properties {sorted(unknown)}"
                )
            ref, attrs = handler(self, logical, props)
            self.physical[logical] = ref
            self.attrs[logical] = attrs
            self.created.append((logical, rtype))
        outputs = {}
        for name, spec in (self.template.get("Outputs") or {}).items():
            if "Condition" in spec and not self.condition(spec["Condition"]):
                continue
            outputs[name] = self._eval(spec["Value"])
        return outputs

    def name(self, logical: str) -> str:
        """A name for a resource the template leaves unnamed (as CloudFormation would)."""
        return f"{self.stack_name}-{logical}"[:64]


# --- one function per resource type: (deployer, logical id, properties) -> (Ref, attributes) ---


def _tags(tags: Optional[List[Dict[str, str]]], kind: str) -> List[Dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": tags}] if tags else []


def _vpc(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    vpc = d.ec2.create_vpc(CidrBlock=p["CidrBlock"], TagSpecifications=_tags(p.get("Tags"), "vpc"))
    vpc_id = vpc["Vpc"]["VpcId"]
    for attr in ("EnableDnsSupport", "EnableDnsHostnames"):
        if attr in p:
            d.ec2.modify_vpc_attribute(VpcId=vpc_id, **{attr: {"Value": bool(p[attr])}})
    return vpc_id, {}


def _igw(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    return d.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"], {}


def _attach(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    d.ec2.attach_internet_gateway(InternetGatewayId=p["InternetGatewayId"], VpcId=p["VpcId"])
    return f"{logical}-attachment", {}


def _route_table(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    return d.ec2.create_route_table(VpcId=p["VpcId"])["RouteTable"]["RouteTableId"], {}


def _route(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    d.ec2.create_route(**p)
    return f"{logical}-route", {}


def _subnet(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    subnet = d.ec2.create_subnet(
        VpcId=p["VpcId"], CidrBlock=p["CidrBlock"], AvailabilityZone=p["AvailabilityZone"]
    )["Subnet"]
    if "MapPublicIpOnLaunch" in p:
        d.ec2.modify_subnet_attribute(
            SubnetId=subnet["SubnetId"],
            MapPublicIpOnLaunch={"Value": bool(p["MapPublicIpOnLaunch"])},
        )
    return subnet["SubnetId"], {"AvailabilityZone": subnet["AvailabilityZone"]}


def _associate(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    return d.ec2.associate_route_table(**p)["AssociationId"], {}


def _permission(rule: Dict[str, Any]) -> Dict[str, Any]:
    perm: Dict[str, Any] = {"IpProtocol": str(rule["IpProtocol"])}
    for key in ("FromPort", "ToPort"):
        if key in rule:
            perm[key] = int(rule[key])
    desc = {"Description": rule["Description"]} if "Description" in rule else {}
    if "CidrIp" in rule:
        perm["IpRanges"] = [{"CidrIp": rule["CidrIp"], **desc}]
    for key in ("SourceSecurityGroupId", "DestinationSecurityGroupId"):
        if key in rule:
            perm["UserIdGroupPairs"] = [{"GroupId": rule[key], **desc}]
    unknown = set(rule) - {
        "IpProtocol", "FromPort", "ToPort", "CidrIp", "Description",
        "SourceSecurityGroupId", "DestinationSecurityGroupId",
    }  # fmt: skip
    if unknown:
        raise TemplateError(f"security group rule keys {sorted(unknown)} not supported")
    return perm


def _security_group(
    d: LocalDeployer, logical: str, p: Dict[str, Any]
) -> Tuple[str, Dict[str, Any]]:
    gid = d.ec2.create_security_group(
        GroupName=d.name(logical), Description=p["GroupDescription"], VpcId=p["VpcId"]
    )["GroupId"]
    if p.get("SecurityGroupIngress"):
        d.ec2.authorize_security_group_ingress(
            GroupId=gid, IpPermissions=[_permission(r) for r in p["SecurityGroupIngress"]]
        )
    if "SecurityGroupEgress" in p:
        # as in CloudFormation, explicit egress rules replace the default allow-all rule
        default = d.ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
        if default["IpPermissionsEgress"]:
            d.ec2.revoke_security_group_egress(
                GroupId=gid, IpPermissions=default["IpPermissionsEgress"]
            )
        d.ec2.authorize_security_group_egress(
            GroupId=gid, IpPermissions=[_permission(r) for r in p["SecurityGroupEgress"]]
        )
    return gid, {"GroupId": gid}


def _file_system(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    performance = p.get("PerformanceMode", "generalPurpose")
    throughput = p.get("ThroughputMode", "bursting")
    if throughput == "elastic" and performance != "generalPurpose":
        # https://docs.aws.amazon.com/efs/latest/ug/performance.html#throughput-modes
        raise TemplateError(
            f"{logical}: Elastic throughput is available only with the General Purpose"
            f" performance mode, not {performance}"
        )
    if performance == "maxIO" and p.get("AvailabilityZoneName"):
        # https://docs.aws.amazon.com/efs/latest/ug/API_CreateFileSystem.html (PerformanceMode)
        raise TemplateError(f"{logical}: the maxIO mode is not supported on One Zone file systems")
    kwargs = {
        k: p[k]
        for k in ("Encrypted", "PerformanceMode", "ThroughputMode", "AvailabilityZoneName")
        if k in p
    }
    if "FileSystemTags" in p:
        kwargs["Tags"] = p["FileSystemTags"]
    fs = boto3.client("efs").create_file_system(CreationToken=d.name(logical), **kwargs)
    return fs["FileSystemId"], {"FileSystemId": fs["FileSystemId"]}


def _mount_target(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    efs = boto3.client("efs")
    fs = efs.describe_file_systems(FileSystemId=p["FileSystemId"])["FileSystems"][0]
    subnet = d.ec2.describe_subnets(SubnetIds=[p["SubnetId"]])["Subnets"][0]
    zone = subnet["AvailabilityZone"]
    one_zone = fs.get("AvailabilityZoneName")
    if one_zone and zone != one_zone:
        # EFS error AvailabilityZonesMismatch; https://docs.aws.amazon.com/efs/latest/ug/API_CreateMountTarget.html
        raise TemplateError(
            f"{logical}: AvailabilityZonesMismatch: subnet {p['SubnetId']} is in {zone}, but the"
            f" One Zone file system {p['FileSystemId']} is in {one_zone}; its mount target must be"
            " in the file system's zone"
        )
    existing = efs.describe_mount_targets(FileSystemId=p["FileSystemId"])["MountTargets"]
    taken = {
        s["AvailabilityZone"]
        for s in d.ec2.describe_subnets(SubnetIds=[m["SubnetId"] for m in existing])["Subnets"]
    } if existing else set()  # fmt: skip
    if zone in taken:
        # EFS error MountTargetConflict: one mount target per Availability Zone
        raise TemplateError(
            f"{logical}: MountTargetConflict: file system {p['FileSystemId']} already has a mount"
            f" target in {zone}"
        )
    mt = efs.create_mount_target(**p)
    return mt["MountTargetId"], {"IpAddress": mt.get("IpAddress", "")}


def _access_point(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    kwargs: Dict[str, Any] = {"FileSystemId": p["FileSystemId"]}
    if "PosixUser" in p:
        kwargs["PosixUser"] = {k: int(v) for k, v in p["PosixUser"].items()}
    if "RootDirectory" in p:
        root = dict(p["RootDirectory"])
        if "CreationInfo" in root:
            info = root["CreationInfo"]
            root["CreationInfo"] = {
                "OwnerUid": int(info["OwnerUid"]),
                "OwnerGid": int(info["OwnerGid"]),
                "Permissions": str(info["Permissions"]),
            }
        kwargs["RootDirectory"] = root
    ap = boto3.client("efs").create_access_point(ClientToken=d.name(logical), **kwargs)
    return ap["AccessPointId"], {"Arn": ap["AccessPointArn"]}


def _bucket(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    name = f"{d.stack_name}-{logical}-{secrets.token_hex(4)}".lower()
    s3 = boto3.client("s3")
    if d.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": d.region})
    if "PublicAccessBlockConfiguration" in p:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"]
        )
    return name, {"Arn": f"arn:aws:s3:::{name}"}


def _role(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    iam = boto3.client("iam")
    name = p.get("RoleName") or d.name(logical)
    role = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"])
    )["Role"]
    for arn in p.get("ManagedPolicyArns", []):
        _check_aws_managed(arn)
        try:
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        except iam.exceptions.NoSuchEntityException:
            # moto loads AWS managed policies only when configured to (slow); the ARN was
            # checked against moto's copy of the AWS list above, so just remember it
            d.aws_managed.setdefault(name, []).append(arn)
    for policy in p.get("Policies", []):
        iam.put_role_policy(
            RoleName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )
    return name, {"Arn": role["Arn"]}


@functools.lru_cache(maxsize=1)
def _aws_managed_policies() -> Dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return dict(json.loads(aws_managed_policies_data))


def _check_aws_managed(arn: str) -> None:
    """An ``arn:aws:iam::aws:policy/...`` ARN must name a real AWS managed policy (path too)."""
    m = re.fullmatch(r"arn:aws:iam::aws:policy(/(?:[\w+=,.@-]+/)*)([\w+=,.@-]+)", arn)
    if not m:
        return  # a customer managed policy: attach_role_policy checks it
    known = _aws_managed_policies()
    if m.group(2) not in known or known[m.group(2)]["Path"] != m.group(1):
        raise TemplateError(f"{arn} is not an AWS managed policy")


def _instance_profile(
    d: LocalDeployer, logical: str, p: Dict[str, Any]
) -> Tuple[str, Dict[str, Any]]:
    iam = boto3.client("iam")
    name = d.name(logical)
    profile = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    for role in p.get("Roles", []):
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    return name, {"Arn": profile["Arn"]}


_BATCH_INTS = {"minvCpus", "maxvCpus", "desiredvCpus", "bidPercentage", "priority", "order"}


def _batch_args(node: Any) -> Any:
    """CloudFormation's PascalCase Batch properties -> the API's camelCase (numbers as ints)."""
    if isinstance(node, list):
        return [_batch_args(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        api_key = _lower_first(key)
        out[api_key] = int(value) if api_key in _BATCH_INTS else _batch_args(value)
    return out


BATCH_SERVICE_LINKED_ROLE = "AWSServiceRoleForBatch"
_BATCH_SERVICE_LINKED_PATH = "/aws-service-role/batch.amazonaws.com/"


def _batch_service_linked_role(d: LocalDeployer) -> str:
    """ARN of AWSServiceRoleForBatch, created if the account lacks it, as Batch does when a
    compute environment names no service role (moto requires a role, and its own
    CreateServiceLinkedRole misspells this one's name)."""
    iam = boto3.client("iam")
    try:
        return str(iam.get_role(RoleName=BATCH_SERVICE_LINKED_ROLE)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "batch.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(
            RoleName=BATCH_SERVICE_LINKED_ROLE,
            Path=_BATCH_SERVICE_LINKED_PATH,
            AssumeRolePolicyDocument=json.dumps(trust),
        )
        return str(role["Role"]["Arn"])


def _compute_env(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    role = p.get("ServiceRole")
    if role is not None:
        same_stack = {d.attrs[r]["Arn"]: r for r, kind in d.created if kind == "AWS::IAM::Role"} | {
            d.physical[r]: r for r, kind in d.created if kind == "AWS::IAM::Role"
        }
        if role in same_stack:
            # https://docs.aws.amazon.com/batch/latest/userguide/infrastructure-updates.html
            raise TemplateError(
                f"{logical}: ServiceRole is {same_stack[role]}, a role created in this stack:"
                " leave ServiceRole out so that Batch uses its service-linked role"
                " AWSServiceRoleForBatch (a new role races IAM propagation, and infrastructure"
                " updates of compute environments require the service-linked role)"
            )
    args = _batch_args(p)
    args.setdefault("computeEnvironmentName", d.name(logical))
    if "serviceRole" not in args:
        args["serviceRole"] = _batch_service_linked_role(d)
        d.service_linked_roles.append(args["serviceRole"])
    arn = boto3.client("batch").create_compute_environment(**args)["computeEnvironmentArn"]
    return arn, {"ComputeEnvironmentArn": arn}


def _job_queue(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    tags = p.get("Tags")
    args = _batch_args({k: v for k, v in p.items() if k != "Tags"})
    args.setdefault("jobQueueName", d.name(logical))
    if tags:
        args["tags"] = {str(k): str(v) for k, v in tags.items()}
    arn = boto3.client("batch").create_job_queue(**args)["jobQueueArn"]
    return arn, {"JobQueueArn": arn}


# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = frozenset(
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922]
    + [3288, 3653]
)


def _log_group(d: LocalDeployer, logical: str, p: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    logs = boto3.client("logs")
    name = p.get("LogGroupName") or d.name(logical)
    retention = p.get("RetentionInDays")
    if retention is not None and int(retention) not in LOG_RETENTION_DAYS:
        raise TemplateError(f"{logical}: RetentionInDays {retention} is not an allowed value")
    try:
        logs.create_log_group(logGroupName=name)
    except logs.exceptions.ResourceAlreadyExistsException:
        # CloudFormation creates, never adopts: the stack fails with "already exists"
        raise TemplateError(f"{logical}: log group {name} already exists") from None
    if retention is not None:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(retention))
    arn = f"arn:aws:logs:{d.region}:{d.account}:log-group:{name}:*"
    return name, {"Arn": arn}


_HANDLERS: Dict[str, Callable[[LocalDeployer, str, Dict[str, Any]], Tuple[str, Dict[str, Any]]]] = {
    "AWS::EC2::VPC": _vpc,
    "AWS::EC2::InternetGateway": _igw,
    "AWS::EC2::VPCGatewayAttachment": _attach,
    "AWS::EC2::RouteTable": _route_table,
    "AWS::EC2::Route": _route,
    "AWS::EC2::Subnet": _subnet,
    "AWS::EC2::SubnetRouteTableAssociation": _associate,
    "AWS::EC2::SecurityGroup": _security_group,
    "AWS::EFS::FileSystem": _file_system,
    "AWS::EFS::MountTarget": _mount_target,
    "AWS::EFS::AccessPoint": _access_point,
    "AWS::S3::Bucket": _bucket,
    "AWS::IAM::Role": _role,
    "AWS::IAM::InstanceProfile": _instance_profile,
    "AWS::Batch::ComputeEnvironment": _compute_env,
    "AWS::Batch::JobQueue": _job_queue,
    "AWS::Logs::LogGroup": _log_group,
}

_KNOWN_PROPERTIES: Dict[str, Set[str]] = {
    "AWS::EC2::VPC": {"CidrBlock", "EnableDnsSupport", "EnableDnsHostnames", "Tags"},
    "AWS::EC2::InternetGateway": set(),
    "AWS::EC2::VPCGatewayAttachment": {"VpcId", "InternetGatewayId"},
    "AWS::EC2::RouteTable": {"VpcId"},
    "AWS::EC2::Route": {"RouteTableId", "DestinationCidrBlock", "GatewayId"},
    "AWS::EC2::Subnet": {"VpcId", "CidrBlock", "AvailabilityZone", "MapPublicIpOnLaunch"},
    "AWS::EC2::SubnetRouteTableAssociation": {"SubnetId", "RouteTableId"},
    "AWS::EC2::SecurityGroup": {
        "GroupDescription",
        "VpcId",
        "SecurityGroupIngress",
        "SecurityGroupEgress",
    },  # fmt: skip
    "AWS::EFS::FileSystem": {
        "Encrypted",
        "PerformanceMode",
        "ThroughputMode",
        "AvailabilityZoneName",
        "FileSystemTags",
    },  # fmt: skip
    "AWS::EFS::MountTarget": {"FileSystemId", "SubnetId", "SecurityGroups"},
    "AWS::EFS::AccessPoint": {"FileSystemId", "PosixUser", "RootDirectory"},
    "AWS::S3::Bucket": {"PublicAccessBlockConfiguration"},
    "AWS::IAM::Role": {"AssumeRolePolicyDocument", "ManagedPolicyArns", "Policies", "RoleName"},
    "AWS::IAM::InstanceProfile": {"Roles"},
    "AWS::Batch::ComputeEnvironment": {
        "ComputeEnvironmentName",
        "Type",
        "State",
        "ServiceRole",
        "ComputeResources",
    },  # fmt: skip
    "AWS::Batch::JobQueue": {
        "JobQueueName",
        "State",
        "Priority",
        "ComputeEnvironmentOrder",
        "Tags",
    },  # fmt: skip
    "AWS::Logs::LogGroup": {"LogGroupName", "RetentionInDays"},
}

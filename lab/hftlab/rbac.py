"""Kubernetes RBAC, evaluated offline: what a logged request asks for, and whether a set of manifests allows it.

Three parts, each small enough to check against the Kubernetes sources by eye:

* ``request_attributes(method, path, query)``: the authorization attributes the
  API server derives from a request (k8s.io/apiserver ``RequestInfoFactory``):
  verb (get/list/watch/create/update/patch/delete/deletecollection, or the
  path verbs ``proxy``/``watch``), API group, resource, subresource, namespace,
  name; non-resource paths (``/version``, ``/apis``) keep their path.
* ``Policy``: the Roles, ClusterRoles and their bindings of a set of manifests,
  and ``Policy.allows(user, attrs)`` with RBAC's semantics (plugin/pkg/auth/
  authorizer/rbac): a rule matches when verb, API group, resource (``pods``,
  ``pods/eviction``, ``*``, ``*/eviction``) and resourceNames (an empty list
  means any) all match; ``*`` matches anything; a ClusterRoleBinding applies
  everywhere, a RoleBinding only to requests in its own namespace (never to
  cluster-scoped ones), whether it refers to a Role or a ClusterRole.
* ``conformance(policy, user, requests)``: every request allowed, every
  grant used (a rule is expanded into one grant per verb x group x resource x
  name, so an extra verb in a rule is an unused grant too), no wildcard.

Standard library only. Nothing here talks to an API server.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools

# RequestInfoFactory's defaults (k8s.io/apiserver/pkg/server/config.go, requestinfo.go).
API_PREFIXES = ("api", "apis")
GROUPLESS_API_PREFIXES = ("api",)
SPECIAL_VERBS = ("proxy", "watch")
SPECIAL_VERBS_NO_SUBRESOURCES = ("proxy",)
NAMESPACE_SUBRESOURCES = ("status", "finalize")
METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
RBAC_GROUP = "rbac.authorization.k8s.io"
ALL = "*"


class RbacError(ValueError):
    """A manifest RBAC would reject, or one this evaluator does not model."""


# --------------------------------------------------------------------------
# request -> attributes
# --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Attributes:
    """What the authorizer sees (k8s.io/apiserver/pkg/authorization/authorizer.Attributes)."""

    verb: str
    resource_request: bool
    path: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    def __str__(self):
        if not self.resource_request:
            return "%s %s (non-resource URL)" % (self.verb, self.path)
        what = self.resource + ("/" + self.subresource if self.subresource else "")
        group = "core" if self.api_group == "" else self.api_group
        where = ("namespace %s" % self.namespace) if self.namespace else "cluster-wide"
        return "%s %s (group %s, %s%s)" % (self.verb, what, group, where, ", name %s" % self.name if self.name else "")


def _query_value(query, key):
    value = (query or {}).get(key)
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


def _watch_requested(query):
    """metav1.ListOptions' ``watch``: any value but "false"/"0" is true (runtime.Convert_Slice_string_To_bool)."""
    value = _query_value(query, "watch")
    return value is not None and str(value).lower() not in ("false", "0")


def _exact_field(selector, field):
    """The value a field selector requires for ``field`` (``f=v`` or ``f==v``), or None."""
    for term in (selector or "").split(","):
        term = term.strip()
        if "!=" in term:
            continue
        key, sep, value = term.replace("==", "=").partition("=")
        if sep and key.strip() == field:
            return value.strip()
    return None


def _valid_path_segment(name):
    return bool(name) and name not in (".", "..") and "/" not in name and "%" not in name


def request_attributes(method, path, query=None):
    """The RBAC request attributes of an HTTP request, as the API server's RequestInfoFactory derives them."""
    method = (method or "").upper()
    verb = method.lower()
    parts = [part for part in (path or "").strip("/").split("/") if part] if path else []
    non_resource = Attributes(verb=verb, resource_request=False, path=path or "/")
    if len(parts) < 3 or parts[0] not in API_PREFIXES:
        return non_resource
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix not in GROUPLESS_API_PREFIXES:
        if len(parts) < 3:
            return non_resource
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]

    if parts and parts[0] in SPECIAL_VERBS:
        if len(parts) < 2:
            raise RbacError("unable to determine kind and namespace from url %s" % path)
        verb, parts = parts[0], parts[1:]
    else:
        verb = METHOD_VERBS.get(method, "")

    namespace = ""
    if parts and parts[0] == "namespaces":
        if len(parts) > 1:
            namespace = parts[1]
            if len(parts) > 2 and parts[2] not in NAMESPACE_SUBRESOURCES:
                parts = parts[2:]

    resource = name = subresource = ""
    if len(parts) >= 3 and verb not in SPECIAL_VERBS_NO_SUBRESOURCES:
        subresource = parts[2]
    if len(parts) >= 2:
        name = parts[1]
    if len(parts) >= 1:
        resource = parts[0]

    if not name and verb == "get":
        verb = "watch" if _watch_requested(query) else "list"
        by_name = _exact_field(_query_value(query, "fieldSelector"), "metadata.name")
        if by_name is not None and _valid_path_segment(by_name):
            name = by_name
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(verb=verb, resource_request=True, path=path, api_group=group, api_version=version,
                      resource=resource, subresource=subresource, namespace=namespace, name=name)


# --------------------------------------------------------------------------
# users, rules, bindings
# --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class User:
    name: str
    groups: tuple = ()

    @classmethod
    def service_account(cls, namespace, name):
        return cls("system:serviceaccount:%s:%s" % (namespace, name),
                   ("system:serviceaccounts", "system:serviceaccounts:%s" % namespace, "system:authenticated"))

    def __str__(self):
        return self.name


@dataclasses.dataclass(frozen=True)
class Rule:
    verbs: tuple
    api_groups: tuple = ()
    resources: tuple = ()
    resource_names: tuple = ()
    non_resource_urls: tuple = ()
    where: str = ""  # "ClusterRole quantbot-hft-onboard rule 0"

    @classmethod
    def from_manifest(cls, data, where=""):
        def strings(key):
            value = data.get(key) or []
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise RbacError("%s: %s must be a list of strings" % (where, key))
            return tuple(value)
        rule = cls(strings("verbs"), strings("apiGroups"), strings("resources"), strings("resourceNames"),
                   strings("nonResourceURLs"), where)
        if not rule.verbs:
            raise RbacError("%s: verbs must not be empty" % where)
        if rule.resources and rule.non_resource_urls:
            raise RbacError("%s: a rule holds resources or nonResourceURLs, not both" % where)
        if rule.resources and not rule.api_groups:
            raise RbacError("%s: resource rules must supply at least one api group" % where)
        if not rule.resources and not rule.non_resource_urls:
            raise RbacError("%s: a rule needs resources or nonResourceURLs" % where)
        return rule

    # the matching functions of pkg/apis/rbac/v1/evaluation_helpers.go
    def verb_matches(self, verb):
        return any(item == ALL or item == verb for item in self.verbs)

    def api_group_matches(self, group):
        return any(item == ALL or item == group for item in self.api_groups)

    def resource_matches(self, resource, subresource):
        combined = resource + ("/" + subresource if subresource else "")
        for item in self.resources:
            if item == ALL or item == combined:
                return True
            # "*/eviction" matches the eviction subresource of every resource
            if subresource and item == "*/" + subresource:
                return True
        return False

    def resource_name_matches(self, name):
        return not self.resource_names or name in self.resource_names

    def non_resource_url_matches(self, path):
        for item in self.non_resource_urls:
            if item == ALL or item == path:
                return True
            if item.endswith("*") and path.startswith(item.rstrip("*")):
                return True
        return False

    def allows(self, attrs):
        if attrs.resource_request:
            return (self.verb_matches(attrs.verb) and self.api_group_matches(attrs.api_group)
                    and self.resource_matches(attrs.resource, attrs.subresource)
                    and self.resource_name_matches(attrs.name))
        return self.verb_matches(attrs.verb) and self.non_resource_url_matches(attrs.path)

    def grants(self):
        """This rule as single grants: one verb, group, resource (and name, when the rule names any) each."""
        if self.non_resource_urls:
            return [Rule((verb,), non_resource_urls=(url,), where=self.where)
                    for verb, url in itertools.product(self.verbs, self.non_resource_urls)]
        names = [(name,) for name in self.resource_names] or [()]
        return [Rule((verb,), (group,), (resource,), name, where=self.where)
                for verb, group, resource, name in itertools.product(self.verbs, self.api_groups, self.resources, names)]

    def __str__(self):
        if self.non_resource_urls:
            return "%s nonResourceURLs %s" % (",".join(self.verbs), ",".join(self.non_resource_urls))
        groups = ",".join("core" if g == "" else g for g in self.api_groups)
        names = " resourceNames %s" % ",".join(self.resource_names) if self.resource_names else ""
        return "%s %s (group %s)%s" % (",".join(self.verbs), ",".join(self.resources), groups, names)


@dataclasses.dataclass(frozen=True)
class Binding:
    kind: str  # RoleBinding or ClusterRoleBinding
    name: str
    namespace: str  # "" for a ClusterRoleBinding
    role_kind: str
    role_name: str
    subjects: tuple  # ((kind, name, namespace), ...)

    def __str__(self):
        return "%s %s%s" % (self.kind, self.namespace + "/" if self.namespace else "", self.name)

    def applies_to(self, user):
        """rbac.go appliesToUser, for each subject of the binding."""
        for kind, name, namespace in self.subjects:
            if kind == "User" and name == user.name:
                return True
            if kind == "Group" and name in user.groups:
                return True
            if kind == "ServiceAccount":
                namespace = namespace or self.namespace
                if namespace and user.name == "system:serviceaccount:%s:%s" % (namespace, name):
                    return True
        return False


Grant = collections.namedtuple("Grant", "rule binding")


def flatten(documents):
    """The objects of a stream of manifests, with each ``kind: ...List`` expanded into its items (as kubectl does)."""
    out = []
    for doc in documents:
        if isinstance(doc, dict) and str(doc.get("kind") or "").endswith("List") and "items" in doc:
            out.extend(flatten(doc.get("items") or []))
        elif doc:
            out.append(doc)
    return out


class Policy:
    """The RBAC objects of a set of manifests (``List`` kinds expanded; other kinds are ignored)."""

    def __init__(self, documents):
        self.roles = {}  # (kind, namespace, name) -> [Rule]
        self.bindings = []
        for doc in flatten(documents):
            if not isinstance(doc, dict):
                continue
            kind = doc.get("kind")
            meta = doc.get("metadata") or {}
            name, namespace = meta.get("name"), meta.get("namespace") or ""
            if kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
                api_version = doc.get("apiVersion") or ""
                if api_version != RBAC_GROUP + "/v1":
                    raise RbacError("%s %s: apiVersion %r, not %s/v1" % (kind, name, api_version, RBAC_GROUP))
                if not name:
                    raise RbacError("a %s without metadata.name" % kind)
            if kind in ("Role", "ClusterRole"):
                if kind == "Role" and not namespace:
                    raise RbacError("Role %s has no namespace" % name)
                if kind == "ClusterRole" and doc.get("aggregationRule"):
                    raise RbacError("ClusterRole %s: aggregationRule is not modelled" % name)
                rules = [Rule.from_manifest(rule, "%s %s%s rule %d" % (kind, namespace + "/" if namespace else "",
                                                                       name, i))
                         for i, rule in enumerate(doc.get("rules") or [])]
                if kind == "Role" and any(rule.non_resource_urls for rule in rules):
                    raise RbacError("Role %s/%s: nonResourceURLs are only valid in a ClusterRole" % (namespace, name))
                self.roles[(kind, "" if kind == "ClusterRole" else namespace, name)] = rules
            elif kind in ("RoleBinding", "ClusterRoleBinding"):
                ref = doc.get("roleRef") or {}
                if ref.get("apiGroup") != RBAC_GROUP or ref.get("kind") not in ("Role", "ClusterRole"):
                    raise RbacError("%s %s: roleRef must be a Role or ClusterRole of %s" % (kind, name, RBAC_GROUP))
                if kind == "ClusterRoleBinding" and ref.get("kind") != "ClusterRole":
                    raise RbacError("ClusterRoleBinding %s can only refer to a ClusterRole" % name)
                if kind == "RoleBinding" and not namespace:
                    raise RbacError("RoleBinding %s has no namespace" % name)
                self.bindings.append(Binding(kind, name, namespace if kind == "RoleBinding" else "", ref["kind"],
                                             ref.get("name"), tuple(
                                                 (subject.get("kind"), subject.get("name"), subject.get("namespace") or "")
                                                 for subject in doc.get("subjects") or ())))

    @staticmethod
    def _role_key(binding):
        if binding.role_kind == "ClusterRole":
            return ("ClusterRole", "", binding.role_name)
        return ("Role", binding.namespace, binding.role_name)

    def rules_for(self, user):
        """[(rule, binding)] of every binding that applies to the user."""
        return [(rule, binding) for binding in self.bindings if binding.applies_to(user)
                for rule in self.roles.get(self._role_key(binding), [])]

    def grants_for(self, user):
        """Every single grant the user holds, with the binding that gives it (binding order, rule order)."""
        return [Grant(single, binding) for rule, binding in self.rules_for(user) for single in rule.grants()]

    @staticmethod
    def in_scope(binding, attrs):
        """A ClusterRoleBinding applies to every request; a RoleBinding to resource requests in its namespace."""
        if binding.kind == "ClusterRoleBinding":
            return True
        return attrs.resource_request and attrs.namespace == binding.namespace

    def allowing(self, user, attrs):
        """The rules (with their bindings) that allow attrs for user."""
        return [Grant(rule, binding) for rule, binding in self.rules_for(user)
                if self.in_scope(binding, attrs) and rule.allows(attrs)]

    def allows(self, user, attrs):
        return bool(self.allowing(user, attrs))

    def dangling(self):
        """Bindings whose role is not among the manifests."""
        return [binding for binding in self.bindings if self._role_key(binding) not in self.roles]


# --------------------------------------------------------------------------
# conformance
# --------------------------------------------------------------------------
@dataclasses.dataclass
class Report:
    user: User
    denied: list  # [(request, attrs)]
    unused: list  # [Grant]
    wildcards: list  # [Rule]
    dangling: list  # [Binding]
    redundant: list = dataclasses.field(default_factory=list)  # [Grant] used, but never the only one allowing

    @property
    def ok(self):
        return not (self.denied or self.unused or self.wildcards or self.dangling or self.redundant)

    def lines(self):
        out = []
        for request, attrs in self.denied:
            method, path, query = request[0], request[1], request[2]
            shown = path + ("?" + "&".join("%s=%s" % kv for kv in sorted((query or {}).items())) if query else "")
            out.append("DENIED %s: %s %s -> %s" % (self.user, method, shown, attrs))
        for grant in self.unused:
            out.append("UNUSED %s: %s (%s, bound by %s)" % (self.user, grant.rule, grant.rule.where, grant.binding))
        for grant in self.redundant:
            out.append("REDUNDANT %s: %s (%s, bound by %s): every request it allows another grant allows too" % (
                self.user, grant.rule, grant.rule.where, grant.binding))
        for rule in self.wildcards:
            out.append("WILDCARD %s: %s (%s)" % (self.user, rule, rule.where))
        for binding in self.dangling:
            out.append("DANGLING %s: %s refers to %s %s, which the manifests do not define" % (
                self.user, binding, binding.role_kind, binding.role_name))
        return out

    def __str__(self):
        return "\n".join(self.lines()) or "%s: every request allowed, every grant used" % self.user


def conformance(policy, user, requests):
    """Judge ``requests`` ((method, path, query) tuples) made by ``user`` against ``policy``.

    A request is denied when no rule bound to the user allows it in its scope.
    A grant (one verb x group x resource x resourceName of a rule, in the scope
    of its binding) is unused when no request falls under it, and redundant
    when each request it allows is allowed by another grant as well (so
    dropping any single grant denies a request). Rules with ``*``
    in verbs, groups, resources or nonResourceURLs are reported: the point is
    a list of exact grants.
    """
    denied = []
    grants = policy.grants_for(user)
    used = set()
    needed = set()
    for request in requests:
        attrs = request_attributes(request[0], request[1], request[2] if len(request) > 2 else None)
        if not policy.allows(user, attrs):
            denied.append((request, attrs))
        allowing = set(grant for grant in grants if policy.in_scope(grant.binding, attrs) and grant.rule.allows(attrs))
        used.update(allowing)
        if len(allowing) == 1:
            needed.update(allowing)
    unused = [grant for grant in grants if grant not in used]
    redundant = [grant for grant in grants if grant in used and grant not in needed]
    wildcards = [rule for rule, dummy in policy.rules_for(user)
                 if ALL in rule.verbs + rule.api_groups + rule.non_resource_urls
                 or any(item == ALL or item.startswith("*/") for item in rule.resources)]
    dangling = [b for b in policy.dangling() if b.applies_to(user)]
    return Report(user, denied, unused, wildcards, dangling, redundant)

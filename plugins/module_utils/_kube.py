# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One Kubernetes client factory for every quantbot.hft module.

After kubernetes.core's ``get_api_client()``: explicit host/api_key, kubeconfig
content, a kubeconfig file (with context), the environment's kubeconfig, and the
in-cluster service account, in that order. The factory returns a plain
``kubernetes.client.ApiClient``; ``KubeApi`` wraps it with the few calls the
modules make and always hands back plain JSON dicts (read with
``_preload_content=False``), so the logic in ``_validate``/``_nodeops`` never sees
client model classes and works the same with old and new client releases.

Nothing here imports AnsibleModule. Errors are raised as ``KubeError``.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy
import json
import os
import traceback

try:
    from urllib.parse import quote
except ImportError:  # Python 2 (sanity import test)
    from urllib import quote  # type: ignore

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    k8s_client = None
    k8s_config = None
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

    class ApiException(Exception):  # noqa: N818  (name matches the client's)
        status = 0

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False


REDACTED = "********"

# Keys whose values are secret wherever they appear in returned data.
SECRET_KEYS = frozenset([
    "token", "api_key", "kubeconfig_content", "token-secret", "client-key-data",
    "client_key_data", "password", "bearer_token", "authorization",
])

# In-cluster service account files (as the kubelet mounts them).
SA_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"
SA_CA_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

STRATEGIC_MERGE = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"

# The shared argument spec; plugins/doc_fragments/kube.py documents the same options.
KUBE_AUTH_ARG_SPEC = dict(
    kubeconfig=dict(type="path"),
    kubeconfig_content=dict(type="raw", no_log=True),
    context=dict(type="str"),
    host=dict(type="str"),
    api_key=dict(type="str", no_log=True),
    validate_certs=dict(type="bool", default=True, aliases=["verify_ssl"]),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"]),
    proxy=dict(type="str"),
    in_cluster=dict(type="bool", default=False),
    api_timeout=dict(type="int", default=30),
)

AUTH_KEYS = tuple(KUBE_AUTH_ARG_SPEC)


class KubeError(Exception):
    """A Kubernetes API or configuration problem; ``status`` is the HTTP code (0 if none)."""

    def __init__(self, msg, status=0, reason=None):
        super(KubeError, self).__init__(msg)
        self.status = status
        self.reason = reason


def auth_params(params):
    """The subset of module params that the factory reads."""
    return dict((key, params.get(key)) for key in AUTH_KEYS)


def secret_values(params):
    """Secret strings present in params (for no_log_values and redact())."""
    values = []
    for key in ("api_key", "token"):
        if params.get(key):
            values.append(str(params[key]))
    content = params.get("kubeconfig_content")
    if isinstance(content, str) and content:
        values.append(content)
    return values


def mask(text, secrets):
    """text with every occurrence of each secret string replaced by REDACTED (longest first)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def configuration_secrets(cfg):
    """The credentials a client Configuration holds: bearer tokens (with and without "Bearer "), password."""
    values = []
    for value in (getattr(cfg, "api_key", None) or {}).values():
        if isinstance(value, str) and value:
            values.append(value)
            if value.lower().startswith("bearer "):
                values.append(value[7:].strip())
    if getattr(cfg, "password", None):
        values.append(cfg.password)
    # very short values would mask ordinary words; no real token is that short
    return [value for value in values if len(value) >= 8]


def redact(data, secrets=()):
    """Deep copy of data with secret keys and any occurrence of a secret string masked."""
    secrets = [s for s in secrets if s]

    def _mask(text):
        return mask(text, secrets)

    def _walk(value):
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if isinstance(key, str) and key.lower() in SECRET_KEYS and item not in (None, ""):
                    out[key] = REDACTED
                else:
                    out[key] = _walk(item)
            return out
        if isinstance(value, (list, tuple)):
            return [_walk(item) for item in value]
        if isinstance(value, str):
            return _mask(value)
        return copy.deepcopy(value)

    return _walk(data)


# --------------------------------------------------------------------------
# the factory
# --------------------------------------------------------------------------
def _load_content(content):
    if isinstance(content, dict):
        return content
    if isinstance(content, str):
        if not HAS_YAML:
            raise KubeError("kubeconfig_content as a string needs PyYAML")
        try:
            loaded = yaml.safe_load(content)
        except yaml.YAMLError:
            raise KubeError("kubeconfig_content is not valid YAML (content not shown)")
        if isinstance(loaded, dict):
            return loaded
    raise KubeError("kubeconfig_content must be a kubeconfig mapping or its YAML text")


def _yaml_position(exc):
    mark = getattr(exc, "problem_mark", None)
    where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
    problem = getattr(exc, "problem", None)
    return "%s%s" % (where, ": %s" % problem if problem else "")


KUBECONFIG_LISTS = ("clusters", "contexts", "users")


def check_kubeconfig_file(path):
    """Refuse a kubeconfig file that cannot be read, is not YAML, or is not a kubeconfig.

    The messages name the file and, for YAML errors, the line and column, never the content
    (a kubeconfig holds credentials, and YAML's error text quotes the offending line).
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except (IOError, OSError) as exc:
        raise KubeError("kubeconfig %s cannot be read: %s" % (path, getattr(exc, "strerror", None) or exc))
    if not HAS_YAML:
        return
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise KubeError("kubeconfig %s is not valid YAML%s (content not shown)" % (path, _yaml_position(exc)))
    if not isinstance(data, dict):
        raise KubeError("kubeconfig %s is not a kubeconfig: it holds %s, not a mapping with clusters, contexts "
                        "and users" % (path, "nothing" if data is None else "a %s" % type(data).__name__))
    if data.get("kind") not in (None, "Config") or not any(key in data for key in KUBECONFIG_LISTS):
        raise KubeError("kubeconfig %s is not a kubeconfig: %s" % (
            path, "its kind is %r, not Config" % data.get("kind") if data.get("kind") not in (None, "Config")
            else "it has none of clusters, contexts and users"))
    for key in KUBECONFIG_LISTS:
        if data.get(key) is not None and not isinstance(data[key], list):
            raise KubeError("kubeconfig %s is not a kubeconfig: %s is a %s, not a list" % (
                path, key, type(data[key]).__name__))


def kubeconfig_mode_warning(path):
    """A warning when the kubeconfig file is readable by its group or others, else None."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return None
    if mode & 0o044:
        return ("kubeconfig %s is readable by %s (mode %04o); it holds cluster credentials: chmod 600 it"
                % (path, "group and others" if mode & 0o040 and mode & 0o004 else
                   "its group" if mode & 0o040 else "others", mode))
    return None


def _ansible_warn(message):
    """Ansible's module warning list (returned with the result), or nothing outside Ansible."""
    try:
        from ansible.module_utils.common.warnings import warn
    except ImportError:  # pragma: no cover - only outside Ansible
        return
    warn(message)


def _load_kubeconfig_file(path, context, cfg, warn):
    """Check, warn about and load one kubeconfig file (or a KUBECONFIG list of them) into cfg."""
    for one in [p for p in path.split(os.pathsep) if p]:
        if os.path.exists(one):
            check_kubeconfig_file(one)
            message = kubeconfig_mode_warning(one)
            if message:
                warn(message)
    try:
        k8s_config.load_kube_config(config_file=path, context=context, client_configuration=cfg,
                                    persist_config=False)
    except k8s_config.ConfigException as exc:
        raise KubeError("kubeconfig %s: %s" % (path, exc))
    except (IOError, OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise KubeError("kubeconfig %s cannot be loaded: %s" % (path, exc))


def _env_kubeconfig(environ):
    for name in ("K8S_AUTH_KUBECONFIG", "KUBECONFIG"):
        if environ.get(name):
            return environ[name]
    return None


def build_configuration(params, environ=None, sa_token_file=SA_TOKEN_FILE, sa_ca_file=SA_CA_FILE, warn=None):
    """Return (kubernetes.client.Configuration, source) from the auth params.

    Order: host (+api_key, ca_cert), kubeconfig_content, kubeconfig, in_cluster=true,
    $K8S_AUTH_KUBECONFIG / $KUBECONFIG, the service account when running in a pod,
    ~/.kube/config. ``host``/``api_key``/``ca_cert``/``validate_certs`` given with a
    kubeconfig override its values.

    A kubeconfig file that is not YAML or not a kubeconfig raises KubeError naming
    the file; one readable by group or others is loaded with a warning through
    ``warn`` (default: the Ansible module's warnings).
    """
    warn = warn or _ansible_warn
    if not HAS_KUBERNETES:
        raise KubeError("the kubernetes Python library is required")
    environ = os.environ if environ is None else environ
    cfg = k8s_client.Configuration()
    context = params.get("context")
    content = params.get("kubeconfig_content")
    path = params.get("kubeconfig")
    host = params.get("host")
    try:
        if host and not (content or path):
            source = "host"
        elif content:
            k8s_config.load_kube_config_from_dict(_load_content(content), context=context,
                                                  client_configuration=cfg, persist_config=False)
            source = "kubeconfig_content"
        elif path:
            if not os.path.exists(path):
                raise KubeError("kubeconfig %s does not exist" % path)
            _load_kubeconfig_file(path, context, cfg, warn)
            source = "kubeconfig"
        elif params.get("in_cluster") or (not _env_kubeconfig(environ)
                                          and environ.get("KUBERNETES_SERVICE_HOST")
                                          and os.path.exists(sa_token_file)):
            loader = k8s_config.incluster_config.InClusterConfigLoader(
                token_filename=sa_token_file, cert_filename=sa_ca_file, environ=environ)
            loader.load_and_set(cfg)
            source = "in_cluster"
        else:
            env_path = _env_kubeconfig(environ) or os.path.expanduser("~/.kube/config")
            first = env_path.split(os.pathsep)[0]
            if not os.path.exists(first):
                raise KubeError(
                    "no Kubernetes credentials: set kubeconfig, host or in_cluster "
                    "(no %s, not running in a pod)" % first)
            _load_kubeconfig_file(env_path, context, cfg, warn)
            source = "environment kubeconfig"
    except KubeError:
        raise
    except k8s_config.ConfigException as exc:
        raise KubeError("cannot load Kubernetes configuration: %s" % exc)
    except (IOError, OSError, ValueError, TypeError) as exc:
        raise KubeError("cannot load Kubernetes configuration: %s" % exc)

    if host:
        cfg.host = host
    if params.get("api_key"):
        # Both spellings: recent clients look up "BearerToken", older ones "authorization".
        value = "Bearer %s" % params["api_key"]
        cfg.api_key = {"BearerToken": value, "authorization": value}
        cfg.api_key_prefix = {}
        cfg.refresh_api_key_hook = None
    if params.get("ca_cert"):
        cfg.ssl_ca_cert = params["ca_cert"]
    if params.get("validate_certs") is False:
        cfg.verify_ssl = False
    # Proxy-free unless asked: the client would otherwise take $https_proxy from
    # the environment, which on a trading node usually points nowhere useful.
    if params.get("proxy"):
        cfg.proxy = params["proxy"]
    elif getattr(cfg, "_proxy_from_env", False) or source == "host":
        cfg.proxy = None
    if not cfg.host:
        raise KubeError("no API server host in the configuration")
    return cfg, source


def get_api_client(params, environ=None, **kwargs):
    """The one client factory: a kubernetes.client.ApiClient from the auth params (see build_configuration)."""
    cfg, dummy = build_configuration(params, environ=environ, **kwargs)
    return k8s_client.ApiClient(configuration=cfg)


# --------------------------------------------------------------------------
# the few API calls the modules make, as plain dicts
# --------------------------------------------------------------------------
def _error_message(exc):
    body = getattr(exc, "body", None)
    message = None
    if body:
        try:
            message = json.loads(body).get("message")
        except (ValueError, TypeError, AttributeError):
            message = None
    return message or getattr(exc, "reason", None) or str(exc)


class KubeApi(object):
    """The few API calls the modules make, as raw JSON requests through the ApiClient.

    Raw requests keep the answers plain dicts (no model classes, so fields a
    model does not know survive) and avoid loading CoreV1Api, which costs
    more than a second per module run with recent clients. Both client
    generations are supported: ``param_serialize``/``call_api`` (kubernetes
    >= 33) and the older ``call_api(resource_path, method, ...)``.
    """

    def __init__(self, api_client, timeout=30):
        self.api_client = api_client
        self.timeout = timeout

    def secrets(self):
        """The credentials of the client's configuration (masked in every error this class raises)."""
        return configuration_secrets(getattr(self.api_client, "configuration", None))

    def request(self, what, method, path, query=None, body=None, content_type="application/json"):
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        query = list((query or {}).items())
        client = self.api_client
        try:
            if hasattr(client, "param_serialize"):
                method_, url, hdrs, body_, post = client.param_serialize(
                    method=method, resource_path=path, query_params=query, header_params=headers,
                    body=body, auth_settings=["BearerToken"])
                resp = client.call_api(method_, url, header_params=hdrs, body=body_, post_params=post,
                                       _request_timeout=self.timeout)
                data = resp.read()
                if not 200 <= resp.status < 300:
                    raise ApiException(status=resp.status, reason=resp.reason, body=data)
            else:  # kubernetes < 33
                resp = client.call_api(path, method, query_params=query, header_params=headers, body=body,
                                       auth_settings=["BearerToken"], _preload_content=False,
                                       _return_http_data_only=True, _request_timeout=self.timeout)
                data = resp.data
        except ApiException as exc:
            # An error body may echo the credentials (some authenticating proxies and webhooks do).
            raise KubeError(mask("%s: %s %s" % (what, exc.status, _error_message(exc)), self.secrets()),
                            status=exc.status, reason=getattr(exc, "reason", None))
        except Exception as exc:  # urllib3/socket/ssl errors
            raise KubeError(mask("%s: %s" % (what, exc), self.secrets()))
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        if not data or not data.strip():
            return {}
        try:
            return json.loads(data)
        except ValueError:
            raise KubeError("%s: the API answered with non-JSON content" % what)

    def _get_or_none(self, what, path):
        try:
            return self.request(what, "GET", path)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def get_node(self, name):
        """The Node as a dict, or None if it does not exist."""
        return self._get_or_none("GET node %s" % name, "/api/v1/nodes/%s" % quote(name, safe=""))

    def patch_node(self, name, body, content_type=STRATEGIC_MERGE):
        return self.request("PATCH node %s" % name, "PATCH", "/api/v1/nodes/%s" % quote(name, safe=""),
                            body=body, content_type=content_type)

    def list_pods_on_node(self, node_name, namespace=None):
        """Pods bound to node_name: ONE list request with a field selector.

        The result is filtered again on spec.nodeName, so a server that ignores
        field selectors (a test double) cannot widen the answer.
        """
        query = {"fieldSelector": "spec.nodeName=%s" % node_name}
        if namespace:
            data = self.request("LIST pods in %s" % namespace, "GET",
                                "/api/v1/namespaces/%s/pods" % quote(namespace, safe=""), query=query)
        else:
            data = self.request("LIST pods", "GET", "/api/v1/pods", query=query)
        return [pod for pod in data.get("items") or []
                if (pod.get("spec") or {}).get("nodeName") == node_name]

    def get_pod(self, namespace, name):
        return self._get_or_none("GET pod %s/%s" % (namespace, name), "/api/v1/namespaces/%s/pods/%s" % (
            quote(namespace, safe=""), quote(name, safe="")))

    def evict_pod(self, namespace, name):
        """POST pods/<name>/eviction. Returns the HTTP status (201, 404 or 429)."""
        body = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": name, "namespace": namespace}}
        try:
            path = "/api/v1/namespaces/%s/pods/%s/eviction" % (quote(namespace, safe=""), quote(name, safe=""))
            self.request("EVICT pod %s/%s" % (namespace, name), "POST", path, body=body)
        except KubeError as exc:
            if exc.status in (404, 429):
                return exc.status
            raise
        return 201

    def node_configz(self, name):
        """The kubelet's /configz through the API server's node proxy."""
        return self.request("GET nodes/%s/proxy/configz" % name, "GET",
                            "/api/v1/nodes/%s/proxy/configz" % quote(name, safe=""))

    def get_configmap(self, namespace, name):
        return self._get_or_none("GET configmap %s/%s" % (namespace, name),
                                 "/api/v1/namespaces/%s/configmaps/%s" % (quote(namespace, safe=""),
                                                                          quote(name, safe="")))

    def create_secret(self, namespace, body):
        return self.request("CREATE secret in %s" % namespace, "POST",
                            "/api/v1/namespaces/%s/secrets" % quote(namespace, safe=""), body=body)

    # ConfigMaps and pods by selector (the SR-IOV device plugin modules) ---------------
    def create_configmap(self, namespace, body):
        return self.request("CREATE configmap in %s" % namespace, "POST",
                            "/api/v1/namespaces/%s/configmaps" % quote(namespace, safe=""), body=body)

    def patch_configmap(self, namespace, name, body, content_type=MERGE_PATCH):
        return self.request("PATCH configmap %s/%s" % (namespace, name), "PATCH",
                            "/api/v1/namespaces/%s/configmaps/%s" % (quote(namespace, safe=""), quote(name, safe="")),
                            body=body, content_type=content_type)

    def list_pods(self, namespace, label_selector=None, node_name=None):
        """Pods in namespace matching a label selector (and bound to node_name): ONE list request.

        Only equality terms (``k=v``, ``k==v``) and bare keys are re-checked on
        the answer, so a server that ignores selectors (a test double) cannot
        widen it; other terms are left to the server.
        """
        query = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if node_name:
            query["fieldSelector"] = "spec.nodeName=%s" % node_name
        data = self.request("LIST pods in %s" % namespace, "GET",
                            "/api/v1/namespaces/%s/pods" % quote(namespace, safe=""), query=query)
        return [pod for pod in data.get("items") or []
                if (not node_name or (pod.get("spec") or {}).get("nodeName") == node_name)
                and _labels_match((pod.get("metadata") or {}).get("labels") or {}, label_selector)]

    def delete_pod(self, namespace, name, uid=None):
        """DELETE one pod (only that incarnation when uid is given). Returns 200, or 404/409 when it is gone."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            self.request("DELETE pod %s/%s" % (namespace, name), "DELETE", "/api/v1/namespaces/%s/pods/%s" % (
                quote(namespace, safe=""), quote(name, safe="")), body=body)
        except KubeError as exc:
            if exc.status in (404, 409):  # gone already, or a new pod of that name (uid precondition)
                return exc.status
            raise
        return 200

    # paged lists (the fleet audit) -------------------------------------------
    def list_paged(self, what, path, label_selector=None, field_selector=None, limit=500):
        """Every item of a LIST, fetched in pages of ``limit`` by following ``metadata.continue``.

        Returns ``(items, pages)``: the items of all pages, in the server's order, and how
        many requests that took. When a continue token has expired (410 Gone, as
        etcd compaction causes) the list starts again from the first page, once; a
        second expiry is an error. A server that hands back the same token twice, or
        a page that is not a List, is an error rather than an endless loop.
        """
        if int(limit) < 1:
            raise KubeError("%s: the page size must be at least 1, not %s" % (what, limit))
        restarted = False
        items, pages, token, seen = [], 0, None, set()
        while True:
            query = {"limit": int(limit)}
            if label_selector:
                query["labelSelector"] = label_selector
            if field_selector:
                query["fieldSelector"] = field_selector
            if token:
                query["continue"] = token
            try:
                page = self.request("%s (page %d)" % (what, pages + 1), "GET", path, query=query)
            except KubeError as exc:
                pages += 1
                if exc.status == 410 and token and not restarted:
                    restarted = True
                    items, token, seen = [], None, set()
                    continue
                raise
            pages += 1
            if not isinstance(page, dict) or not isinstance(page.get("items", []), list):
                raise KubeError("%s: page %d is not a List" % (what, pages))
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items, pages
            if token in seen:
                raise KubeError("%s: the API server repeated continue token %s (page %d)" % (what, token[:16], pages))
            seen.add(token)

    def get_daemonset(self, namespace, name):
        """The DaemonSet as a dict, or None if it does not exist."""
        path = "/apis/apps/v1/namespaces/%s/daemonsets/%s" % (quote(namespace, safe=""), quote(name, safe=""))
        return self._get_or_none("GET daemonset %s/%s" % (namespace, name), path)


def _labels_match(labels, selector):
    for term in (selector or "").split(","):
        term = term.strip()
        if not term or "!" in term or " " in term:
            continue  # set-based and negative terms: the server's job
        key, sep, value = term.replace("==", "=").partition("=")
        if (sep and labels.get(key) != value) or (not sep and key not in labels):
            return False
    return True


def run_module(module, run, errors=()):
    """What a Kubernetes module's main() repeats, once: the client check, the factory, one try/except.

    ``run(module, api)`` does the work with a :class:`KubeApi`; KubeError and
    the domain ``errors`` become ``fail_json(msg=...)``. Returns what ``run``
    returns.
    """
    if not HAS_KUBERNETES:
        from ansible.module_utils.basic import missing_required_lib  # only the module side needs it
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    try:
        api = KubeApi(get_api_client(auth_params(module.params)), timeout=module.params["api_timeout"])
        return run(module, api)
    except (KubeError,) + tuple(errors) as exc:
        module.fail_json(msg=str(exc))
    return None  # not reached: fail_json exits


def ca_file_bytes(api_client):
    """The PEM of the CA the client trusts (from ssl_ca_cert), or None."""
    path = getattr(api_client.configuration, "ssl_ca_cert", None)
    if path and os.path.exists(path):
        with open(path, "rb") as handle:
            return handle.read()
    return None

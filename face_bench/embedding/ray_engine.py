"""Embedding on a Ray cluster: a pool of actors, each holding its models across batches.

Why plain actors rather than Ray Data: the driver already knows the exact list of images
still missing from the cache, wants the results back in input order to write the same
content-addressed cache as the local engine, and must keep failures to enrol per image.
``ray.util.ActorPool`` gives that with natural back-pressure (one batch in flight per
actor) and no extra dependency. Each actor loads dlib's detector and every model once,
runs the face stage and the models on a batch of image paths, and returns one outcome per
image; the driver writes the cache, so a warm rerun needs no cluster at all.

Images are read where the actors run: on a multi-node cluster every node must see the
dataset at the same path (a shared filesystem). A node that dies takes its actors with
it; Ray restarts them and retries their batch, and the run completes with the same
vectors because each image is processed independently.

Ray is an optional dependency (``pip install 'face-bench[ray]'``), imported only here.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from face_bench.core.errors import EngineError, FaceBenchError, StoppedRunError
from face_bench.embedding import workers
from face_bench.faces.locate import FaceSettings

BATCH_IMAGES = 16  # images per actor call: large enough to batch ONNX, small enough to spread
MAX_RETRIES = 3  # restarts of a dead actor, and retries of the batch it held
CONNECT_TIMEOUT_S = 10.0
"""How long a cluster address may take to answer before the run stops with exit 35. Ray's
own client retries an unreachable address for many minutes without a word."""


@dataclass(frozen=True)
class RayOptions:
    """Where the cluster is and how much of it to use."""

    address: str | None = None  # None: $RAY_ADDRESS, else a local cluster for this run
    actors: int | None = None  # None: one per CPU the cluster offers


_MISSING = "--engine ray needs Ray, which is not installed: pip install 'face-bench[ray]'"


def require_ray() -> None:
    """Fail at once, without importing it, when Ray is not installed."""
    import importlib.util

    try:
        found = importlib.util.find_spec("ray") is not None
    except ValueError:  # a module object without a spec (e.g. set to None in sys.modules)
        found = False
    if not found:
        raise EngineError(_MISSING)


def _ray():
    try:
        import ray
    except ImportError:
        raise EngineError(_MISSING) from None
    return ray


class Cluster:
    """This process's connection to Ray, made once and shared by embedding and scoring.

    A local cluster started for the run is shut down when the process exits (normally, on
    Ctrl-C or on SIGTERM turned into an exit), so no Ray process outlives face-bench.
    """

    _current: Cluster | None = None

    def __init__(self, ray: Any, started_here: bool) -> None:
        self.ray = ray
        self.started_here = started_here

    @classmethod
    def connect(cls, options: RayOptions) -> Cluster:
        ray = _ray()
        if cls._current is not None and ray.is_initialized():
            return cls._current
        if ray.is_initialized():  # the caller's own ray.init(): use it, leave it running
            cls._current = cls(ray, started_here=False)
            return cls._current
        address = options.address or os.environ.get("RAY_ADDRESS") or None
        if address:
            _check_reachable(address)
        _init_ray(ray, address, options)
        cls._current = cls(ray, started_here=not address)
        atexit.register(cls._current.shutdown)
        return cls._current

    def cpus(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def shutdown(self) -> None:
        """Stop a cluster this process started (a no-op for one it joined)."""
        if self.started_here and self.ray.is_initialized():
            self.ray.shutdown()
        if Cluster._current is self:
            Cluster._current = None


def _init_ray(ray: Any, address: str | None, options: RayOptions) -> None:
    """Join the cluster at ``address`` or start a local one, with Ray's notices off the
    terminal and face-bench's own signal handlers kept; a failure is one EngineError line."""
    # face-bench speaks for the run: Ray's own notices stay off the terminal (errors
    # still surface as face-bench's one-line messages).
    logging.getLogger("ray").setLevel(logging.ERROR)
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    kwargs = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    stops = ("SIGTERM", "SIGINT", "SIGHUP")  # SIGHUP: not on Windows
    handlers = {
        getattr(signal, name): signal.getsignal(getattr(signal, name))
        for name in stops
        if hasattr(signal, name)
    }
    try:
        with _quiet_native_stderr():
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=options.actors or os.cpu_count() or 1, **kwargs)
        # Ray's driver installs a crash handler that aborts on SIGTERM; face-bench's own
        # (stop, keep the cache, exit 143/129/130, shut the cluster down) stay in charge.
        for signum, handler in handlers.items():
            with contextlib.suppress(ValueError, TypeError):  # not the main thread / none
                signal.signal(signum, handler)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ...
        where = address or "a local cluster"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(f"could not start or reach Ray at {where}: {first}") from None


def _bootstrap_target(address: str) -> tuple[str, int] | None:
    """The host and port Ray will connect to for ``address`` (None: Ray decides, e.g.
    ``local``, or an address form this check does not know)."""
    if address.startswith("ray://"):
        target: str | None = address.removeprefix("ray://")
    else:
        try:
            from ray._private.services import canonicalize_bootstrap_address

            target = canonicalize_bootstrap_address(address)  # "auto": the recorded cluster
        except Exception:  # an address Ray itself will refuse, with its own message
            return None
    host, sep, port = (target or "").rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _check_reachable(address: str) -> None:
    """Refuse, within ``CONNECT_TIMEOUT_S``, a cluster address that nothing answers at (an
    unknown host, a closed port, a host that drops packets), before Ray starts retrying."""
    import socket
    import threading

    target = _bootstrap_target(address)
    if target is None:
        return
    outcome: list[BaseException | None] = []

    def connect() -> None:  # name lookup included: getaddrinfo has no timeout of its own
        try:
            socket.create_connection(target, timeout=CONNECT_TIMEOUT_S).close()
            outcome.append(None)
        except Exception as exc:  # OSError, or a host name no encoding can carry
            outcome.append(exc)

    probe = threading.Thread(target=connect, name="face-bench-ray-probe", daemon=True)
    probe.start()
    probe.join(CONNECT_TIMEOUT_S + 1)
    if outcome and outcome[0] is None:
        return
    if not outcome or isinstance(outcome[0], TimeoutError):
        reason = f"no answer within {CONNECT_TIMEOUT_S:g} s"
    else:
        error = outcome[0]
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    raise EngineError(f"cannot reach the Ray cluster at {address}: {reason}")


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence what Ray's C++ core prints on file descriptor 2 while it starts (its log
    settings, a token notice); a failed start still raises, and is reported in one line."""
    import sys
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class EmbedActor:
    """One model load per actor: the local workers' state (dlib's detector and networks,
    ONNX sessions on one thread), kept across batches."""

    def __init__(self, settings: FaceSettings, models: Sequence[workers.WorkerModel]) -> None:
        workers.init_state(settings, models)

    def process(self, tasks: list[workers.Task]) -> list[workers.Outcome]:
        """Every image of the batch through the face stage and every model that needs it."""
        return workers.process_batch(tasks)


def run(
    tasks: list[workers.Task],
    settings: FaceSettings,
    models: Sequence[workers.WorkerModel],
    options: RayOptions,
) -> Iterator[workers.Outcome]:
    """Outcomes in task order, every model output already a vector (ONNX inferred remotely)."""
    if not tasks:
        return
    cluster = Cluster.connect(options)
    try:
        ray = cluster.ray
        from ray.util import ActorPool

        n_actors = min(options.actors or cluster.cpus(), -(-len(tasks) // BATCH_IMAGES))
        remote = ray.remote(num_cpus=1, max_restarts=MAX_RETRIES, max_task_retries=MAX_RETRIES)
        actor_cls = remote(EmbedActor)
        pool = ActorPool([actor_cls.remote(settings, tuple(models)) for _ in range(n_actors)])
        batches = [tasks[i : i + BATCH_IMAGES] for i in range(0, len(tasks), BATCH_IMAGES)]
        for outcomes in pool.map(lambda actor, batch: actor.process.remote(batch), batches):
            yield from outcomes
    except EngineError:
        raise
    except Exception as exc:
        raise _translated(exc) from None


def _translated(exc: BaseException) -> BaseException:
    """The error to report for an exception that surfaced through Ray's own code.

    A signal turned into an exception (SIGTERM's TerminatedRunError, Ctrl-C) while Ray's
    C extension holds control comes back wrapped in a SystemError: unwrap it, so an
    interrupted Ray run ends exactly like a local one.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, FaceBenchError | StoppedRunError | KeyboardInterrupt):
            return seen
        seen = seen.__cause__ or seen.__context__
    if type(exc).__module__.startswith("ray"):
        return EngineError(f"the Ray run failed: {str(exc).splitlines()[0][:300]}")
    return exc


def _run_block(fn, triangle, r0: int, r1: int, arg):
    return fn(triangle, r0, r1, arg)


class RayMapper:
    """Runs all-pairs block passes as Ray tasks: the embeddings go to the object store once,
    at most ``2 x CPUs`` blocks are in flight or waiting (back-pressure), results are yielded
    in block order.

    A task whose worker dies is retried by Ray (``max_retries``), so a lost node costs time,
    never a wrong count.
    """

    def __init__(self, options: RayOptions) -> None:
        self.options = options
        self._cluster: Cluster | None = None
        self._task: Any = None
        self._shared: tuple[int, object] | None = None

    @property
    def cluster(self) -> Cluster:
        """Connected on first use, so a run whose blocks need no cluster never starts one."""
        if self._cluster is None:
            self._cluster = Cluster.connect(self.options)
            remote = self._cluster.ray.remote(num_cpus=1, max_retries=MAX_RETRIES)
            self._task = remote(_run_block)
        return self._cluster

    def __call__(self, fn, triangle, blocks, arg) -> Iterator[Any]:
        ray = self.cluster.ray
        if self._shared is None or self._shared[0] != id(triangle):
            self._shared = (id(triangle), ray.put(triangle))
        shared, arg_ref = self._shared[1], ray.put(arg)
        window = 2 * self.cluster.cpus()
        ready: dict[int, Any] = {}
        pending: dict[Any, int] = {}
        submitted = next_out = 0
        while next_out < len(blocks):
            while submitted < len(blocks) and len(pending) + len(ready) < window:
                r0, r1 = blocks[submitted]
                pending[self._task.remote(fn, shared, r0, r1, arg_ref)] = submitted
                submitted += 1
            while next_out not in ready:
                try:
                    done, _rest = ray.wait(list(pending), num_returns=1)
                    ready[pending.pop(done[0])] = ray.get(done[0])
                except Exception as exc:
                    raise _translated(exc) from None
            yield ready.pop(next_out)  # in block order: the driver folds in a fixed order
            next_out += 1

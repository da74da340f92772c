"""dlib's descriptor on onnxruntime against dlib's own code: equality, speed, and the new floor.

Phases (all by default; pick with --phase, repeatable):

- ``equality``: every face chip of jp_faces_dev and lfw_fold1, descriptor by dlib's own
  ``compute_face_descriptor`` and by face-bench's converted graph; max |delta| and the
  99.9th percentile per set. Also the face stage's per-image split (decode, HOG detection +
  5 landmarks, chip cutting), measured on the same images in one process.
- ``speed``: images/s of both runtimes on the same chips at 1 and 2 processes/threads.
- ``headline``: ``face-bench roc --subset young_women --model dlib`` with each runtime
  (cold, separate caches): AUC, EER and best-F1 threshold must agree to 1e-6.
- ``pipeline``: the cold young_women run with dlib + the EfficientNetV2-B0 stand-in at
  --bootstrap 0, its ratio to the new floor (both networks over the prepared chips the
  fastest way this machine runs them: two threads in one process, or one thread in each
  of two processes) + the face stage, and the warm reruns at --bootstrap 0 and 1,000
  (fastest of 3).
- ``lfw``: cold ``face-bench lfw`` with dlib on a full-size LFW: lfw_fold1's 807 images
  copied ``--lfw-copies`` times (17: 13,719 images, more than LFW's 13,233), each copy
  under its own identity names with a JPEG comment that makes its bytes (so its cache key)
  unique while its pixels, and so all the work, stay those of the real image; the pairs
  file is fold 1's pairs once per copy. The embedding stage is the cold run minus the warm
  rerun of the same command; with ``--align detect`` (the lfw default: HOG upsampled once
  on every photo) and ``--align auto`` (crops searched at their own size).

    python benchmarks/bench_dlib_onnx.py [--phase equality ...] [--update-results | --out FILE]

The machine may be shared: ratios are measured within one run, and the load average is
recorded before and after.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    SHARED,
    add_output_options,
    add_tiny_option,
    announce,
    output_path,
    read_decoded,
    standin_config,
    step,
    time_face_bench,
)

DATASETS = SHARED / "datasets"
JP, LFW = DATASETS / "jp_faces_dev", DATASETS / "lfw_fold1"
PHASES = ("equality", "speed", "headline", "pipeline", "lfw")
_NET = None


def _init_dlib() -> None:
    global _NET
    import dlib

    from face_bench.models.registry import DLIB_DESCRIPTOR_FILE, dlib_weight_path

    _NET = dlib.face_recognition_model_v1(str(dlib_weight_path(DLIB_DESCRIPTOR_FILE)))


def _describe(chips: np.ndarray) -> tuple[np.ndarray, float]:
    start = time.process_time()
    out = np.asarray([_NET.compute_face_descriptor(chip, 0) for chip in chips])
    return out, time.process_time() - start


CPU: dict[str, float] = {}  # CPU seconds of the last dlib_own / dlib_onnx call


def dlib_own(chips: np.ndarray, processes: int) -> tuple[np.ndarray, float]:
    """Descriptors by dlib's own code, one process each (the pool starts before timing)."""
    with ProcessPoolExecutor(max_workers=processes, initializer=_init_dlib) as pool:
        list(pool.map(_describe, [chips[:1]] * processes))  # load the network everywhere
        start = time.perf_counter()
        parts = list(pool.map(_describe, np.array_split(chips, processes * 4)))
        elapsed = time.perf_counter() - start
    CPU["dlib_own"] = sum(cpu for _v, cpu in parts)
    return np.concatenate([v for v, _cpu in parts]), elapsed


def dlib_onnx(chips: np.ndarray, threads: int, cache: Path) -> tuple[np.ndarray, float]:
    """Descriptors by face-bench's ONNX path, batched as the pipeline batches them."""
    from face_bench.models.dlib_onnx import open_dlib_onnx
    from face_bench.models.onnx_backend import to_tensor
    from face_bench.models.registry import BUILTIN_MODELS, DLIB_DESCRIPTOR_FILE, dlib_weight_path

    spec = BUILTIN_MODELS["dlib"]
    model = open_dlib_onnx(spec, dlib_weight_path(DLIB_DESCRIPTOR_FILE), cache, threads)
    size = spec.batch_size
    model.infer(to_tensor(list(chips[:size]), model.spec))  # first call allocates
    start, cpu = time.perf_counter(), time.process_time()
    out = [model.infer(to_tensor(list(chips[i : i + size]), model.spec))
           for i in range(0, len(chips), size)]  # fmt: skip
    CPU["dlib_onnx"] = time.process_time() - cpu
    return np.concatenate(out), time.perf_counter() - start


def _chip_of(path: Path) -> tuple[np.ndarray | None, tuple[float, float, float]]:
    """One image's dlib chip as face-bench cuts it, and its decode/locate/chip seconds."""
    from face_bench.faces.locate import FaceSettings, locate
    from face_bench.models.backends import model_input
    from face_bench.models.registry import BUILTIN_MODELS

    t0 = time.perf_counter()
    rgb = read_decoded(path)
    t1 = time.perf_counter()
    entry = locate(rgb, FaceSettings())
    t2 = time.perf_counter()
    chip = None
    if entry.face is not None:
        chip = model_input(rgb, entry.face, BUILTIN_MODELS["dlib"])
    return chip, (t1 - t0, t2 - t1, time.perf_counter() - t2)


def face_chips(folder: Path, limit: int | None = None) -> tuple[np.ndarray, dict]:
    """Every image's dlib chip (one process per core), with the face stage's time split."""
    with (folder / "manifest.csv").open(encoding="utf-8") as handle:
        paths = sorted(row["path"] for row in csv.DictReader(handle))[:limit]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        done = list(pool.map(_chip_of, [folder / rel for rel in paths], chunksize=8))
    chips = [chip for chip, _t in done if chip is not None]
    spent = np.sum([t for _c, t in done], axis=0) / len(paths) * 1e3
    names = ("decode", "detect_landmarks", "chip")
    split = {f"{k}_ms_per_image": v for k, v in zip(names, spent.round(2).tolist(), strict=True)}
    return np.stack(chips), {"images": len(paths), "faces": len(chips), **split}


SETS = {"jp_faces_dev": JP, "lfw_fold1": LFW}


def equality(cache: Path, sets: list[str]) -> dict:
    out = {}
    for name in sets:
        folder = SETS[name]
        chips, split = face_chips(folder)
        own, own_s = dlib_own(chips, 2)
        onnx, onnx_s = dlib_onnx(chips, 2, cache)
        delta = np.abs(own - onnx)
        out[name] = {
            **split,
            "max_abs_delta": float(delta.max()),
            "p99_9_abs_delta": float(np.percentile(delta, 99.9)),
            "dlib_own_2_processes_images_per_s": round(len(chips) / own_s, 1),
            "dlib_onnx_2_threads_images_per_s": round(len(chips) / onnx_s, 1),
        }
    return out


def speed(cache: Path, count: int) -> dict:
    chips, _split = face_chips(JP, limit=count)
    out: dict = {"chips": len(chips)}
    for n in (1, 2):
        _own, own_s = dlib_own(chips, n)
        _onnx, onnx_s = dlib_onnx(chips, n, cache)
        out[f"{n}"] = {
            "dlib_own_images_per_s": round(len(chips) / own_s, 1),
            "dlib_onnx_images_per_s": round(len(chips) / onnx_s, 1),
            "speedup": round(own_s / onnx_s, 1),
            "dlib_own_cpu_ms_per_image": round(CPU["dlib_own"] / len(chips) * 1e3, 2),
            "dlib_onnx_cpu_ms_per_image": round(CPU["dlib_onnx"] / len(chips) * 1e3, 2),
            "cpu_speedup": round(CPU["dlib_own"] / CPU["dlib_onnx"], 1),
        }
    return out


def _roc(folder: Path, tag: str, extra: list[str], cpu: dict | None = None) -> tuple[float, dict]:
    out = folder / tag
    args = ["roc", "--subset", "young_women", "--data", str(JP), "--out", str(out), *extra]
    seconds = time_face_bench(args, cpu)
    return seconds, json.loads((out / "results.json").read_text(encoding="utf-8"))


def _fastest(folder: Path, tag: str, extra: list[str], runs: int = 3) -> tuple[float, float]:
    """Wall and CPU seconds of the fastest of ``runs`` runs: a shared machine only adds noise."""
    timed = []
    for _ in range(runs):
        cpu: dict = {}
        wall, _results = _roc(folder, tag, extra, cpu)
        timed.append((wall, cpu["cpu_s"]))
    return min(timed)


def _headline_figures(results: dict) -> dict:
    (model,) = [m for m in results["subsets"][0]["models"] if m["name"] == "dlib"]
    metrics = model["metrics"]
    figures = {k: metrics[k] for k in ("roc_auc", "eer", "eer_threshold")}
    figures["best_f1_threshold"] = metrics["best_f1"]["threshold"]
    figures["best_f1"] = metrics["best_f1"]["f1"]
    return figures


def headline(folder: Path) -> dict:
    figures = {}
    for runtime in ("onnx", "dlib"):
        cache = ["--cache-dir", str(folder / f"cache-{runtime}"), "--dlib-runtime", runtime]
        _s, results = _roc(folder, f"headline-{runtime}", ["--model", "dlib", *cache])
        figures[runtime] = _headline_figures(results)
    diff = max(abs(figures["onnx"][k] - figures["dlib"][k]) for k in figures["onnx"])
    return {**figures, "max_abs_difference": diff, "equal_to_1e-6": diff <= 1e-6}


def _standin_inference(chips224: list[np.ndarray], threads: int) -> float:
    from face_bench.models.onnx_backend import OnnxModel, to_tensor

    spec = _standin_spec()
    model = OnnxModel(spec, SHARED / "models" / "efficientnetv2_b0_512_random.onnx", threads)
    model.infer(to_tensor(chips224[:16], spec))
    start = time.perf_counter()
    for i in range(0, len(chips224), 16):
        model.infer(to_tensor(chips224[i : i + 16], spec))
    return time.perf_counter() - start


_NETS: list = []


def _init_nets(dlib_graph: str) -> None:
    """Both networks on one onnxruntime thread, as each embedding worker holds them."""
    from face_bench.models.dlib_onnx import graph_spec
    from face_bench.models.onnx_backend import OnnxModel
    from face_bench.models.registry import BUILTIN_MODELS

    standin = OnnxModel(_standin_spec(), SHARED / "models" / "efficientnetv2_b0_512_random.onnx", 1)
    _NETS[:] = [OnnxModel(graph_spec(BUILTIN_MODELS["dlib"]), Path(dlib_graph), 1), standin]


def _infer_both(chips: tuple[list[np.ndarray], list[np.ndarray]]) -> None:
    from face_bench.models.onnx_backend import to_tensor

    for model, part in zip(_NETS, chips, strict=True):
        for i in range(0, len(part), 4):  # the workers' batch of 4 images
            model.infer(to_tensor(part[i : i + 4], model.spec))


def _both_in_processes(chips150, chips224, cache: Path) -> float:
    """Both networks over every chip on one thread per process, a process per core."""
    from face_bench.models.dlib_onnx import ensure_converted
    from face_bench.models.registry import DLIB_DESCRIPTOR_FILE, dlib_weight_path

    graph = str(ensure_converted(dlib_weight_path(DLIB_DESCRIPTOR_FILE), cache))
    n = os.cpu_count() or 1
    spawn = multiprocessing.get_context("spawn")  # this process already runs onnxruntime
    with ProcessPoolExecutor(n, spawn, initializer=_init_nets, initargs=(graph,)) as pool:
        list(pool.map(_infer_both, [(chips150[:4], chips224[:4])] * n))  # sessions warm
        start = time.perf_counter()
        halves = [(chips150[i::n], chips224[i::n]) for i in range(n)]
        list(pool.map(_infer_both, halves))
        return time.perf_counter() - start


def _standin_spec():
    from face_bench.models.registry import ModelSpec

    return ModelSpec(name="standin", backend="onnx", mean=(0.485, 0.456, 0.406),
                     std=(0.229, 0.224, 0.225), embedding_size=512, threshold=0.4)  # fmt: skip


def locate_path(path: Path, settings: Any) -> Any:
    """One file through the face stage as a run's workers take it (bytes, decode, locate)."""
    from face_bench.data.images import read_image_bytes
    from face_bench.faces.locate import decode_bytes, locate

    return locate(decode_bytes(read_image_bytes(path), str(path)), settings)


def _face_stage(paths: list[Path]) -> float:
    """Decode + HOG + landmarks of the run's images, one process per core, as a run does it."""
    from face_bench.faces.locate import FaceSettings

    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(locate_path, paths[:2], [FaceSettings()] * 2))  # start the workers
        start = time.perf_counter()
        list(pool.map(locate_path, paths, [FaceSettings()] * len(paths), chunksize=4))
        return time.perf_counter() - start


def pipeline(folder: Path) -> dict:
    from face_bench.faces.locate import FaceSettings, locate
    from face_bench.models.backends import model_input
    from face_bench.models.registry import BUILTIN_MODELS, ModelSpec

    config = standin_config(folder)
    common = ["--model", "dlib", "--model", "standin", "--config", str(config),
              "--cache-dir", str(folder / "cache-pipeline")]  # fmt: skip
    cold_cpu: dict = {}
    cold, results = _roc(folder, "cold", [*common, "--bootstrap", "0"], cold_cpu)
    warm_boot, warm_boot_cpu = _fastest(folder, "warm-1000", common)
    warm, warm_cpu = _fastest(folder, "warm-0", [*common, "--bootstrap", "0"])
    images = [JP / rel for rel in results["subsets"][0]["images"]]
    standin = ModelSpec(name="s", backend="onnx", threshold=0.4, chip_size=224)
    chips150, chips224 = [], []
    for path in images:
        rgb = read_decoded(path)
        face = locate(rgb, FaceSettings()).face
        chips150.append(model_input(rgb, face, BUILTIN_MODELS["dlib"]))
        chips224.append(model_input(rgb, face, standin))
    _d, dlib_s = dlib_onnx(np.stack(chips150), 2, folder / "cache-pipeline")
    dlib_cpu = CPU["dlib_onnx"]
    standin_cpu = time.process_time()
    standin_s = _standin_inference(chips224, 2)
    standin_cpu = time.process_time() - standin_cpu
    both_s = _both_in_processes(chips150, chips224, folder / "cache-pipeline")
    faces_s = _face_stage(images)
    floor = min(dlib_s + standin_s, both_s)
    return {
        "images": len(images),
        "dlib_onnx_inference_s": round(dlib_s, 3),
        "standin_inference_s": round(standin_s, 3),
        "both_networks_one_thread_per_process_s": round(both_s, 3),
        "floor_s": round(floor, 3),
        "floor_rule": "the faster of: each network on 2 threads in one process, one after "
        "the other; both networks on 1 thread in each of 2 processes, half the chips each",
        "face_stage_2_processes_s": round(faces_s, 3),
        "cold_run_s": round(cold, 3),
        "cold_over_floor_plus_faces": round(cold / (floor + faces_s), 3),
        "warm_run_bootstrap_0_s": round(warm, 3),
        "warm_run_bootstrap_1000_s": round(warm_boot, 3),
        "cpu_s": {
            "dlib_onnx_inference": round(dlib_cpu, 3),
            "standin_inference": round(standin_cpu, 3),
            "cold_run": round(cold_cpu["cpu_s"], 3),
            "warm_run_bootstrap_0": round(warm_cpu, 3),
            "warm_run_bootstrap_1000": round(warm_boot_cpu, 3),
        },
        "help_s": round(min(time_face_bench(["--help"]) for _ in range(3)), 3),
    }


def lfw_replica(folder: Path, copies: int) -> Path:
    """lfw_fold1 ``copies`` times over: new names, unique bytes, identical pixels."""
    root = folder / "lfw-replica"
    lines = (LFW / "protocol" / "pairs.txt").read_text(encoding="utf-8").splitlines()
    n_per = int(lines[0].split()[-1])
    body = []
    for copy in range(copies):
        suffix = f"_c{copy:02d}"
        for line in lines[1:]:  # names get the copy's suffix, image numbers stay
            body.append("\t".join(f if f.isdigit() else f + suffix for f in line.split("\t")))
        comment = f"face-bench benchmark copy {copy}".encode()
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        for source in (LFW / "images").glob("*/*.jpg"):
            who = f"{source.parent.name}_c{copy:02d}"
            target = root / "images" / who / source.name.replace(source.parent.name, who, 1)
            target.parent.mkdir(parents=True, exist_ok=True)
            data = source.read_bytes()
            target.write_bytes(data[:2] + segment + data[2:])  # after SOI: pixels unchanged
    (root / "protocol").mkdir(parents=True, exist_ok=True)
    (root / "protocol" / "pairs.txt").write_text(
        f"{copies}\t{n_per}\n" + "\n".join(body) + "\n", encoding="utf-8"
    )
    return root


def lfw(folder: Path, copies: int, aligns: list[str]) -> dict:
    root = lfw_replica(folder, copies)
    images = len(list((root / "images").glob("*/*.jpg")))
    out: dict = {"images": images, "pairs": 2 * 300 * copies}
    for align in aligns:  # each from an empty cache of its own
        args = ["lfw", "--data", str(root), "--pairs-file", str(root / "protocol" / "pairs.txt"),
                "--model", "dlib", "--align", align, "--cache-dir", str(folder / f"cache-{align}"),
                "--out", str(folder / f"lfw-{align}")]  # fmt: skip
        step(f"lfw --align {align}: {images} images, cold")
        cold = time_face_bench(args)
        warm = time_face_bench(args)
        results = json.loads((folder / f"lfw-{align}" / "lfw.json").read_text(encoding="utf-8"))
        out[f"align_{align}"] = {
            "cold_s": round(cold, 1),
            "warm_s": round(warm, 1),
            "embedding_stage_s": round(cold - warm, 1),
            "embedding_ms_per_image": round((cold - warm) / images * 1e3, 2),
            "lfw_13233_embedding_s_at_that_rate": round((cold - warm) / images * 13_233, 1),
            "accuracy": [m["accuracy"] for m in results["models"]],
            "load_after": os.getloadavg(),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", action="append", choices=PHASES)
    parser.add_argument("--speed-chips", type=int, default=300)
    parser.add_argument("--lfw-copies", type=int, default=17, help="lfw phase: 807 x this")
    parser.add_argument(
        "--lfw-align", action="append", choices=["detect", "auto"], help="lfw phase (both)"
    )
    parser.add_argument("--set", action="append", choices=list(SETS), help="equality sets")
    add_output_options(parser, "dlib_onnx")
    add_tiny_option(parser)
    args = parser.parse_args()
    if args.tiny:
        args.phase, args.speed_chips = ["speed"], 8  # 4 chunks per process at 2
    announce("dlib-only cold run <= 0.25x dlib's own descriptor time; full LFW <= 2 min")
    out = output_path(args, "dlib_onnx")
    phases = args.phase or list(PHASES)
    summary: dict = {}
    if out.is_file():  # phases run separately accumulate in one file
        summary = json.loads(out.read_text(encoding="utf-8"))
    summary.update(cores=os.cpu_count(), load_before=os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for phase in phases:
            start = time.perf_counter()
            if phase == "equality":
                summary[phase] = equality(folder / "cache-eq", args.set or list(SETS))
            elif phase == "speed":
                summary[phase] = speed(folder / "cache-eq", args.speed_chips)
            elif phase == "lfw":
                summary[phase] = lfw(folder, args.lfw_copies, args.lfw_align or ["detect", "auto"])
            else:
                summary[phase] = {"headline": headline, "pipeline": pipeline}[phase](folder)
            summary[phase]["phase_s"] = round(time.perf_counter() - start, 1)
            summary[phase]["load_after"] = os.getloadavg()
            print(json.dumps({phase: summary[phase]}, indent=2), flush=True)
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
